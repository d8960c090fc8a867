<?php
// phpcs:ignoreFile

class OrderActionsTest extends PrintBridge_TestCase {

	/** The bridge's view of order 42 whose print jobs wait as `$waiting` says. */
	private static function view( array $waiting ) {
		return array(
			'store'           => 'shop',
			'order_id'        => 42,
			'status'          => 'processing',
			'paid'            => true,
			'payment_method'  => 'stripe',
			'provider_orders' => array(
				array( 'provider' => 'spiff', 'target' => 'order', 'state' => 'pending', 'provider_order_id' => null, 'attempts' => 0, 'last_error' => null, 'next_attempt_at' => null, 'file_id' => null, 'tracking' => array() ),
			),
			'attention'       => array(),
			'waiting'         => $waiting + array(
				'message'           => 'x',
				'paid_statuses'     => array( 'processing', 'completed' ),
				'held'              => 0,
				'awaiting_approval' => 0,
			),
		);
	}

	/** A user with `role`, logged in. */
	private function user( $role ) {
		$id = wp_insert_user( array( 'user_login' => $role . wp_rand(), 'user_pass' => 'pw-' . wp_rand(), 'user_email' => $role . wp_rand() . '@example.org', 'role' => $role ) );
		wp_set_current_user( $id );
		return $id;
	}

	/** The buttons' actions in an order box. */
	private static function buttons( $html ) {
		preg_match_all( '/class="button printbridge-order-action" data-order-id="42" data-action="([a-z-]+)"/', $html, $m );
		return $m[1];
	}

	public function test_the_order_box_says_when_the_order_goes_to_print_in_the_site_timezone() {
		$this->admin();
		update_option( 'timezone_string', 'Europe/Berlin' );
		update_option( 'date_format', 'Y-m-d' );
		update_option( 'time_format', 'H:i' );
		$html = PrintBridge_Order_Admin::render_view( 42, self::view( array( 'reason' => 'hold', 'print_at' => '2026-12-07T13:30:00.000Z' ) ) );
		$this->assertStringContainsString( 'Goes to print at 2026-12-07 14:30.', $html );
		$this->assertStringContainsString( 'Waiting for the hold window', $html );
		$this->assertSame( array( 'send-now', 'hold' ), self::buttons( $html ) );

		$held = PrintBridge_Order_Admin::render_view( 42, self::view( array( 'reason' => 'held', 'held' => 1 ) ) );
		$this->assertStringContainsString( 'Held: nothing goes to print until you send it.', $held );
		$this->assertSame( array( 'send-now' ), self::buttons( $held ) );

		$approval = PrintBridge_Order_Admin::render_view( 42, self::view( array( 'reason' => 'approval', 'awaiting_approval' => 2 ) ) );
		$this->assertStringContainsString( 'Waiting for your approval', $approval );
		$this->assertSame( array( 'approve' ), self::buttons( $approval ) );

		$none = self::view( array() );
		unset( $none['waiting'] );
		$this->assertStringNotContainsString( 'printbridge-waiting', PrintBridge_Order_Admin::render_view( 42, $none ) );
	}

	public function test_an_unpaid_order_says_which_status_counts_as_paid_for_its_payment_method() {
		$this->admin();
		$order = wc_create_order();
		$order->set_payment_method( 'cod' );
		$order->set_payment_method_title( 'Cash on delivery <b>' );
		$order->save();
		$view = self::view( array( 'reason' => 'payment', 'paid_statuses' => array( 'completed' ) ) );
		$html = PrintBridge_Order_Admin::render_view( $order->get_id(), $view );
		$this->assertStringContainsString( 'Waiting for payment: orders paid with Cash on delivery &lt;b&gt; go to print when they are Completed.', $html );
		$this->assertStringNotContainsString( 'printbridge-order-action', $html );
	}

	public function test_buttons_only_for_those_who_may_edit_orders() {
		$this->user( 'customer' );
		$html = PrintBridge_Order_Admin::render_view( 42, self::view( array( 'reason' => 'approval', 'awaiting_approval' => 1 ) ) );
		$this->assertStringContainsString( 'Waiting for your approval', $html );
		$this->assertSame( array(), self::buttons( $html ) );
		$this->user( 'shop_manager' );
		$html = PrintBridge_Order_Admin::render_view( 42, self::view( array( 'reason' => 'approval', 'awaiting_approval' => 1 ) ) );
		$this->assertSame( array( 'approve' ), self::buttons( $html ) );
	}

	public function test_the_ajax_action_checks_capability_and_nonce_then_calls_the_bridge() {
		$this->connect();
		$this->responder = function () {
			return self::response( 200, array( 'jobs' => 2 ) );
		};
		$_POST = $_REQUEST = array( 'nonce' => wp_create_nonce( PrintBridge_Order_Actions::AJAX_ACTION ), 'order_id' => '42', 'do' => 'send-now' );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Actions', 'ajax_order_action' ) );
		$this->assertFalse( $json['success'] ); // Logged out: no capability.
		$this->user( 'customer' );
		$_POST['nonce'] = $_REQUEST['nonce'] = wp_create_nonce( PrintBridge_Order_Actions::AJAX_ACTION );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Actions', 'ajax_order_action' ) );
		$this->assertFalse( $json['success'] );
		$this->user( 'shop_manager' );
		list( , , $die ) = printbridge_run_ajax( array( 'PrintBridge_Order_Actions', 'ajax_order_action' ) );
		$this->assertSame( '-1', $die, 'a nonce of another user' );
		$this->assertCount( 0, $this->requests );

		foreach ( array( 'send-now', 'hold', 'approve' ) as $i => $action ) {
			$_POST = $_REQUEST = array( 'nonce' => wp_create_nonce( PrintBridge_Order_Actions::AJAX_ACTION ), 'order_id' => '42', 'do' => $action );
			list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Actions', 'ajax_order_action' ) );
			$this->assertTrue( $json['success'], $action );
			$this->assertSame( 2, $json['data']['jobs'] );
			$this->assertSame( 'https://bridge.test/v1/stores/shop/orders/42/' . $action, $this->requests[ $i ]['url'] );
			$this->assertSame( 'POST', $this->requests[ $i ]['args']['method'] );
			$this->assertSame( '{}', $this->requests[ $i ]['args']['body'] );
			$this->assertSame( 'Bearer tok_secret_123', $this->requests[ $i ]['args']['headers']['Authorization'] );
		}
		$this->assertStringContainsString( 'approved for print', $json['data']['message'] );

		$_POST['do'] = $_REQUEST['do'] = 'delete';
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Actions', 'ajax_order_action' ) );
		$this->assertFalse( $json['success'] );
		$this->assertCount( 3, $this->requests, 'an unknown action is not sent' );

		$this->responder = function () {
			return self::response( 409, array( 'error' => 'nothing_waiting', 'message' => 'no print job of order 42 awaits approval', 'field' => 'order_id' ) );
		};
		$_POST['do'] = $_REQUEST['do'] = 'approve';
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Order_Actions', 'ajax_order_action' ) );
		$_POST = $_REQUEST = array();
		$this->assertFalse( $json['success'] );
		$this->assertStringContainsString( 'Nothing of this order waits for that any more', $json['data']['message'] );
	}

	public function test_the_bulk_action_approves_each_order_on_both_order_screens() {
		$this->connect();
		foreach ( array( 'woocommerce_page_wc-orders', 'edit-shop_order' ) as $screen ) {
			wp_set_current_user( 0 );
			$this->requests = array();
			$this->assertArrayNotHasKey( PrintBridge_Order_Actions::BULK_APPROVE, apply_filters( 'bulk_actions-' . $screen, array() ) );
			$this->assertSame( 'edit.php?x=1', apply_filters( 'handle_bulk_actions-' . $screen, 'edit.php?x=1', PrintBridge_Order_Actions::BULK_APPROVE, array( 1 ) ) );
			$this->assertCount( 0, $this->requests );

			$this->user( 'shop_manager' );
			$this->assertSame( 'Approve for print', apply_filters( 'bulk_actions-' . $screen, array() )[ PrintBridge_Order_Actions::BULK_APPROVE ] );
			$this->requests  = array();
			$this->responder = function ( $url ) {
				if ( false !== strpos( $url, '/orders/2/' ) ) {
					return self::response( 409, array( 'error' => 'nothing_waiting', 'message' => 'no print job of order 2 awaits approval' ) );
				}
				if ( false !== strpos( $url, '/orders/3/' ) ) {
					return self::response( 503, array( 'error' => 'unavailable', 'message' => 'database is down' ) );
				}
				return self::response( 200, array( 'jobs' => 2 ) );
			};
			$to = apply_filters( 'handle_bulk_actions-' . $screen, 'edit.php?printbridge_approved=9', PrintBridge_Order_Actions::BULK_APPROVE, array( '1', '2', '3', '4', '4' ) );
			$urls = array_map(
				static function ( $r ) {
					return $r['url'];
				},
				$this->requests
			);
			$this->assertSame(
				array(
					'https://bridge.test/v1/stores/shop/orders/1/approve',
					'https://bridge.test/v1/stores/shop/orders/2/approve',
					'https://bridge.test/v1/stores/shop/orders/3/approve',
					'https://bridge.test/v1/stores/shop/orders/4/approve',
				),
				$urls
			);
			parse_str( (string) wp_parse_url( $to, PHP_URL_QUERY ), $q );
			$this->assertSame( array( 'printbridge_approved' => '4', 'printbridge_approve_failed' => '1', 'printbridge_approve_left' => '0' ), $q );
			// Another bulk action is left to its owner.
			$this->assertSame( 'edit.php', apply_filters( 'handle_bulk_actions-' . $screen, 'edit.php', 'mark_completed', array( 1 ) ) );
			$this->assertCount( 4, $this->requests );
		}
	}

	public function test_the_bulk_notice_shows_the_counts() {
		$this->user( 'shop_manager' );
		$_GET = array( 'printbridge_approved' => '4', 'printbridge_approve_failed' => '1', 'printbridge_approve_left' => '0' );
		ob_start();
		PrintBridge_Order_Actions::bulk_notice();
		$html = ob_get_clean();
		$_GET = array();
		$this->assertStringContainsString( '4 print jobs approved for print. The bridge could not be asked about 1 order; try again.', $html );
		$this->assertStringContainsString( 'notice-warning', $html );
	}
}
