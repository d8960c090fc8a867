<?php
// phpcs:ignoreFile

class OrderAdminTest extends PrintBridge_TestCase {

	private static function view() {
		return array(
			'store'           => 'shop',
			'order_id'        => 42,
			'status'          => 'processing',
			'paid'            => true,
			'provider_orders' => array(
				array( 'provider' => 'spiff', 'target' => 'order', 'state' => 'done', 'provider_order_id' => 'SP-1', 'attempts' => 1, 'last_error' => null, 'next_attempt_at' => null, 'file_id' => null, 'tracking' => array( array( 'carrier' => 'DHL', 'number' => 'JD0001', 'url' => 'https://track.example/JD0001' ) ) ),
				array( 'provider' => 'key2print', 'target' => 'proj_9', 'state' => 'needs-review', 'provider_order_id' => null, 'attempts' => 3, 'last_error' => '<script>alert(1)</script> timeout after send', 'next_attempt_at' => null, 'file_id' => 'f_77', 'tracking' => array( array( 'carrier' => 'X', 'number' => '1', 'url' => 'javascript:alert(1)' ) ) ),
			),
			'attention'       => array( 'key2print proj_9: <b>ambiguous</b> outcome' ),
		);
	}

	public function test_meta_box_fetches_the_order_server_side() {
		$this->admin();
		$this->connect();
		$this->responder = function () {
			return self::response( 200, self::view() );
		};
		$id = wc_create_order()->get_id();
		ob_start();
		PrintBridge_Order_Admin::render_meta_box( wc_get_order( $id ) );
		$html = ob_get_clean();
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'https://bridge.test/v1/stores/shop/orders/' . $id, $this->requests[0]['url'] );
		$this->assertSame( 'GET', $this->requests[0]['args']['method'] );
		$this->assertSame( 'Bearer tok_secret_123', $this->requests[0]['args']['headers']['Authorization'] );
		$this->assertSame( 5, $this->requests[0]['args']['timeout'] );

		$this->assertStringContainsString( 'Bridge sees status &quot;processing&quot;, paid.', $html );
		$this->assertStringContainsString( '<td>Spiff</td><td>whole order</td><td><mark class="printbridge-state">Placed</mark></td><td>SP-1</td><td>1</td>', $html );
		$this->assertStringContainsString( '<a href="https://track.example/JD0001" target="_blank" rel="noopener noreferrer">DHL JD0001</a>', $html );
		$this->assertStringContainsString( 'Needs review', $html );
		$this->assertStringContainsString( '&lt;script&gt;alert(1)&lt;/script&gt; timeout after send', $html );
		$this->assertStringContainsString( '<li>key2print proj_9: &lt;b&gt;ambiguous&lt;/b&gt; outcome</li>', $html );
		$this->assertStringNotContainsString( '<script>', $html );
		$this->assertStringNotContainsString( 'javascript:', $html );
		$this->assertStringContainsString( 'class="button printbridge-retry" data-order-id="' . $id . '"', $html );
		// The PDF goes through admin-ajax with a nonce; neither the bridge URL nor the token is in the page.
		$this->assertMatchesRegularExpression( '#admin-ajax\.php\?action=printbridge_file&(amp;|\#038;)order_id=' . $id . '&(amp;|\#038;)file_id=f_77&(amp;|\#038;)_wpnonce=[0-9a-f]{10}#', $html );
		$this->assertStringNotContainsString( 'bridge.test', $html );
		$this->assertStringNotContainsString( 'tok_secret_123', $html );
	}

	public function test_orders_the_bridge_has_not_seen_and_errors_are_plain() {
		$this->assertStringContainsString( 'has not received this order yet', PrintBridge_Order_Admin::render_view( 5, new WP_Error( 'printbridge_not_found', 'x' ) ) );
		$this->connect();
		$this->responder = function () {
			return self::response( 404, array( 'error' => 'not_found', 'message' => 'no such order' ) );
		};
		$view = PrintBridge_Bridge_Client::from_settings()->order( 5 );
		$this->assertSame( 'printbridge_not_found', $view->get_error_code() );
		$this->responder = function () {
			return self::response( 503, array( 'error' => 'unavailable', 'message' => 'database is down' ) );
		};
		$html = PrintBridge_Order_Admin::render_view( 5, PrintBridge_Bridge_Client::from_settings()->order( 5 ) );
		$this->assertStringContainsString( 'The bridge answered 503: database is down', $html );
		$this->assertStringNotContainsString( 'printbridge-retry', $html );
	}

	public function test_no_retry_button_when_all_is_well() {
		$view                    = self::view();
		$view['provider_orders'] = array( $view['provider_orders'][0] );
		$view['attention']       = array();
		$this->assertStringNotContainsString( 'printbridge-retry', PrintBridge_Order_Admin::render_view( 42, $view ) );
	}

	public function test_retry_ajax_posts_to_the_bridge() {
		$this->connect();
		$this->responder = function () {
			return self::response( 200, array( 'replayed' => 2 ) );
		};
		$_POST = $_REQUEST = array( 'nonce' => wp_create_nonce( PrintBridge_Order_Admin::AJAX_RETRY ), 'order_id' => '42' );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Admin', 'ajax_retry' ) );
		$this->assertFalse( $json['success'] ); // Logged out: no capability.
		$this->assertCount( 0, $this->requests );

		$this->admin();
		$_POST['nonce'] = $_REQUEST['nonce'] = wp_create_nonce( PrintBridge_Order_Admin::AJAX_RETRY );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Admin', 'ajax_retry' ) );
		$_REQUEST = array();
		$this->assertTrue( $json['success'] );
		$this->assertSame( 2, $json['data']['replayed'] );
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'https://bridge.test/v1/stores/shop/orders/42/retry', $this->requests[0]['url'] );
		$this->assertSame( 'POST', $this->requests[0]['args']['method'] );
		$this->assertSame( '{}', $this->requests[0]['args']['body'] );
		$this->assertSame( 'Bearer tok_secret_123', $this->requests[0]['args']['headers']['Authorization'] );
	}

	public function test_meta_box_is_registered_on_the_order_screen_for_shop_managers() {
		require_once ABSPATH . 'wp-admin/includes/template.php';
		$this->connect();
		// The order screen of the shop's order storage: woocommerce_page_wc-orders (HPOS) or shop_order.
		$screen                   = PrintBridge_Order_Admin::screen_id();
		$order                    = wc_create_order();
		$GLOBALS['wp_meta_boxes'] = array();
		do_action( 'add_meta_boxes', $screen, $order );
		$this->assertArrayNotHasKey( $screen, $GLOBALS['wp_meta_boxes'] );

		$this->admin();
		do_action( 'add_meta_boxes', $screen, $order );
		$box = $GLOBALS['wp_meta_boxes'][ $screen ]['normal']['default']['printbridge-order'];
		$this->assertSame( array( 'PrintBridge_Order_Admin', 'render_meta_box' ), $box['callback'] );
		$this->assertTrue( wp_script_is( 'printbridge-admin', 'enqueued' ) );
		$data = wp_scripts()->get_data( 'printbridge-admin', 'data' );
		$this->assertStringContainsString( '"retryNonce":"', $data );
		$this->assertStringNotContainsString( 'tok_secret_123', $data );
		$this->assertStringNotContainsString( 'bridge.test', $data );
	}

	public function test_pdf_links_are_bound_to_order_and_file() {
		$this->admin();
		$url = PrintBridge_Order_Admin::file_url( 42, 'f_77' );
		parse_str( (string) parse_url( $url, PHP_URL_QUERY ), $q );
		$this->assertSame( 'printbridge_file', $q['action'] );
		$this->assertSame( 1, wp_verify_nonce( $q['_wpnonce'], PrintBridge_Order_Admin::file_nonce_action( 42, 'f_77' ) ) );
		$this->assertFalse( wp_verify_nonce( $q['_wpnonce'], PrintBridge_Order_Admin::file_nonce_action( 42, 'f_78' ) ) );
		$this->assertFalse( wp_verify_nonce( $q['_wpnonce'], PrintBridge_Order_Admin::file_nonce_action( 43, 'f_77' ) ) );
	}

	public function test_pdf_proxy_refuses_without_capability_nonce_or_valid_id() {
		$this->connect();
		$this->responder = function () {
			return self::response( 200, '%PDF-1.4', 'application/pdf' );
		};
		$_GET = $_REQUEST = array( 'order_id' => '42', 'file_id' => 'f_77', '_wpnonce' => 'x' );
		list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Order_Admin', 'ajax_file' ) );
		$this->assertSame( 'You are not allowed to do this.', $die );

		$this->admin();
		list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Order_Admin', 'ajax_file' ) );
		$this->assertSame( '-1', $die );

		$_GET['file_id'] = $_REQUEST['file_id'] = '../etc/passwd';
		$_GET['_wpnonce'] = $_REQUEST['_wpnonce'] = wp_create_nonce( PrintBridge_Order_Admin::file_nonce_action( 42, '../etc/passwd' ) );
		list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Order_Admin', 'ajax_file' ) );
		$this->assertSame( 'Unknown file.', $die );
		$this->assertCount( 0, $this->requests );
		$_GET = $_REQUEST = array();
	}
}
