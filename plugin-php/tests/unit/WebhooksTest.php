<?php
// phpcs:ignoreFile

class WebhooksTest extends PrintBridge_TestCase {

	private function synced() {
		$admin = $this->admin();
		$this->connect();
		$ids = PrintBridge_Webhooks::sync( $admin->ID );
		$this->assertIsArray( $ids );
		return $ids;
	}

	public function test_sync_refuses_without_a_complete_connection() {
		$result = PrintBridge_Webhooks::sync( 1 );
		$this->assertInstanceOf( WP_Error::class, $result );
		$this->assertSame( array(), self::webhooks() );
	}

	public function test_disabled_by_woocommerce_shows_a_notice_with_one_click_reenable() {
		$ids     = $this->synced();
		// The bridge answers 500 to WooCommerce's real deliveries; the seventh failure in a row disables the webhook.
		$order           = wc_create_order();
		$this->responder = function () {
			return self::response( 500, array( 'error' => 'internal' ) );
		};
		for ( $i = 0; $i < 7; $i++ ) {
			wc_get_webhook( $ids['order.created'] )->deliver( $order->get_id() );
		}
		// WooCommerce also pings the delivery URL (a form body without the topic header) when it saves the failure count.
		$deliveries = array_values(
			array_filter(
				$this->requests,
				function ( $r ) {
					return isset( $r['args']['headers']['X-WC-Webhook-Topic'] );
				}
			)
		);
		$this->assertCount( 7, $deliveries );
		$this->assertSame( 'https://bridge.test/v1/webhooks/woocommerce/shop', $deliveries[0]['url'] );
		$this->assertSame( 'order.created', $deliveries[0]['args']['headers']['X-WC-Webhook-Topic'] );
		$this->assertSame( 'disabled', ( new WC_Webhook( $ids['order.created'] ) )->get_status() );
		$this->assertSame( array( $ids['order.created'] ), PrintBridge_Webhooks::disabled() );

		ob_start();
		PrintBridge_Webhooks::admin_notice();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'WooCommerce disabled the webhooks', $html );
		$this->assertMatchesRegularExpression( '#admin-post\.php\?action=printbridge_reenable_webhooks&(amp;|\#038;)_wpnonce=[0-9a-f]{10}#', $html );

		$this->assertSame( 1, PrintBridge_Webhooks::reenable() );
		$again = new WC_Webhook( $ids['order.created'] );
		$this->assertSame( 'active', $again->get_status() );
		$this->assertSame( 0, $again->get_failure_count() );
		$this->assertSame( array(), PrintBridge_Webhooks::disabled() );
		ob_start();
		PrintBridge_Webhooks::admin_notice();
		$this->assertSame( '', ob_get_clean() );
	}

	public function test_other_webhooks_being_disabled_is_ignored() {
		$this->synced();
		$other = self::other_webhook();
		do_action( 'woocommerce_webhook_disabled_due_delivery_failures', $other->get_id() );
		$this->assertSame( array(), PrintBridge_Webhooks::disabled() );
	}

	public function test_notice_is_only_for_shop_managers() {
		$ids = $this->synced();
		PrintBridge_Webhooks::on_disabled( $ids['order.updated'] );
		wp_set_current_user( 0 );
		ob_start();
		PrintBridge_Webhooks::admin_notice();
		$this->assertSame( '', ob_get_clean() );
	}

	public function test_reenable_handler_requires_capability_and_nonce() {
		$ids = $this->synced();
		PrintBridge_Webhooks::on_disabled( $ids['order.updated'] );
		wp_set_current_user( 0 );
		list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Webhooks', 'handle_reenable' ) );
		$this->assertNotNull( $die );
		$this->assertSame( array( $ids['order.updated'] ), PrintBridge_Webhooks::disabled() );

		$this->admin();
		$_REQUEST['_wpnonce'] = 'bad';
		list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Webhooks', 'handle_reenable' ) );
		$this->assertNotNull( $die );
		$this->assertSame( array( $ids['order.updated'] ), PrintBridge_Webhooks::disabled() );
		unset( $_REQUEST['_wpnonce'] );
	}

	public function test_delete_all_removes_only_our_webhooks() {
		$this->synced();
		$other = self::other_webhook();
		PrintBridge_Webhooks::delete_all();
		$this->assertSame( array( $other->get_id() ), array_keys( self::webhooks() ) );
		$this->assertSame( array(), PrintBridge_Webhooks::ids() );
	}

	public function test_reenable_redirects_back_with_a_confirmation() {
		$ids = $this->synced();
		PrintBridge_Webhooks::on_disabled( $ids['order.created'] );
		$hook = wc_get_webhook( $ids['order.created'] );
		$hook->set_status( 'disabled' );
		$hook->save();

		$back                         = admin_url( 'edit.php?post_type=product' );
		$_REQUEST['_wpnonce']         = wp_create_nonce( PrintBridge_Webhooks::ACTION_REENABLE );
		$_REQUEST['_wp_http_referer'] = wp_make_link_relative( $back );
		$location                     = null;
		$capture                      = function ( $to ) use ( &$location ) {
			$location = $to;
			throw new PrintBridge_Die( 'redirect' );
		};
		add_filter( 'wp_redirect', $capture );
		try {
			list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Webhooks', 'handle_reenable' ) );
		} finally {
			remove_filter( 'wp_redirect', $capture );
		}
		$this->assertSame( 'redirect', $die );
		$this->assertSame( 'active', wc_get_webhook( $ids['order.created'] )->get_status() );
		parse_str( (string) parse_url( $location, PHP_URL_QUERY ), $query );
		$this->assertSame( '1', $query['printbridge_reenabled'] );
		$this->assertSame( 'product', $query['post_type'] );

		// The page it lands on confirms, and WordPress drops the argument from the address bar.
		$_GET = $query;
		set_current_screen( 'dashboard' ); // As on an admin page.
		ob_start();
		do_action( 'admin_notices' );
		$html = ob_get_clean();
		$this->assertStringContainsString( '<div class="notice notice-success is-dismissible printbridge-reenabled"><p>PrintBridge: 1 webhook to the bridge is active again.</p></div>', $html );
		$this->assertStringNotContainsString( 'WooCommerce disabled the webhooks', $html );
		$this->assertContains( 'printbridge_reenabled', wp_removable_query_args() );

		wp_set_current_user( 0 );
		ob_start();
		PrintBridge_Webhooks::reenabled_notice();
		$this->assertSame( '', ob_get_clean() );
	}
}
