<?php
// phpcs:ignoreFile

/**
 * WooCommerce > Key2print templates: the editor in merchant mode, opened with a session the
 * shop asks the bridge for.
 */
class MerchantEditorTest extends PrintBridge_TestCase {

	protected function tearDown(): void {
		global $submenu;
		unset( $submenu['woocommerce'] );
		parent::tearDown();
	}

	private function ask( $nonce = null ) {
		$_POST = $_REQUEST = array( 'nonce' => null === $nonce ? wp_create_nonce( PrintBridge_Merchant_Editor::AJAX_SESSION ) : $nonce );
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Merchant_Editor', 'ajax_session' ) );
		$_POST = $_REQUEST = array();
		return array( $json, $raw );
	}

	private function configure_wrapper() {
		$settings                    = PrintBridge_Settings::all();
		$settings['k2p_wrapper_url'] = 'https://editor.example.test/wrapper.js';
		PrintBridge_Settings::update( $settings );
	}

	public function test_the_page_is_under_woocommerce_for_shop_managers_only() {
		global $submenu;
		$this->admin();
		$submenu['woocommerce'] = array();
		PrintBridge_Merchant_Editor::menu();
		$entries = wp_list_pluck( $submenu['woocommerce'], 2 );
		$this->assertContains( PrintBridge_Merchant_Editor::PAGE, $entries );
		$entry = $submenu['woocommerce'][ array_search( PrintBridge_Merchant_Editor::PAGE, $entries, true ) ];
		$this->assertSame( 'manage_woocommerce', $entry[1] );

		$customer = wp_insert_user( array( 'user_login' => 'k2p_customer', 'user_pass' => 'x', 'role' => 'customer' ) );
		wp_set_current_user( $customer );
		$submenu['woocommerce'] = array();
		PrintBridge_Merchant_Editor::menu();
		$this->assertNotContains( PrintBridge_Merchant_Editor::PAGE, wp_list_pluck( $submenu['woocommerce'], 2 ) );
	}

	public function test_the_session_is_asked_for_in_merchant_mode_by_a_shop_manager_with_a_nonce() {
		$this->connect();
		$this->configure_wrapper();
		$this->responder = function () {
			return self::response( 200, array( 'token' => 'merchant-token', 'expires_at' => null, 'user_id' => null, 'warnings' => array() ) );
		};
		// Logged out, then a customer: refused, nothing sent.
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'] );
		$customer = wp_insert_user( array( 'user_login' => 'k2p_shopper', 'user_pass' => 'x', 'role' => 'customer' ) );
		wp_set_current_user( $customer );
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'] );
		$this->assertCount( 0, $this->requests );

		$this->admin();
		list( $json ) = $this->ask( 'deadbeef00' );
		$this->assertFalse( $json['success'] );
		$this->assertStringContainsString( 'expired', $json['data']['message'] );
		$this->assertCount( 0, $this->requests );

		list( $json, $raw ) = $this->ask();
		$this->assertTrue( $json['success'], $raw );
		$this->assertSame( array( 'token' => 'merchant-token' ), $json['data'] );
		$this->assertCount( 1, $this->requests );
		$r = $this->requests[0];
		$this->assertSame( 'https://bridge.test/v1/stores/shop/key2print/sessions', $r['url'] );
		$this->assertSame( 'POST', $r['args']['method'] );
		$this->assertSame( array( 'mode' => 'merchant' ), json_decode( $r['args']['body'], true ) );
		$this->assertStringNotContainsString( 'tok_secret_123', $raw );
	}

	public function test_plain_messages_when_key2print_is_not_set_up() {
		$this->admin();
		// No wrapper URL: the page says so and no session is asked for.
		$this->connect();
		ob_start();
		PrintBridge_Merchant_Editor::render();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'Key2print editor wrapper URL', $html );
		$this->assertStringNotContainsString( 'printbridge-open-merchant-editor', $html );
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'] );
		$this->assertCount( 0, $this->requests );

		// The bridge has no Key2print section for the store.
		$this->configure_wrapper();
		ob_start();
		PrintBridge_Merchant_Editor::render();
		$this->assertStringContainsString( 'id="printbridge-open-merchant-editor"', ob_get_clean() );
		$this->responder = function () {
			return self::response( 409, array( 'error' => 'key2print_not_configured', 'message' => 'store shop has no [stores.key2print] section', 'field' => 'store' ) );
		};
		list( $json ) = $this->ask();
		$this->assertFalse( $json['success'] );
		$this->assertSame( 'Key2print is not set up on the bridge for this store: add a [stores.key2print] section to the bridge configuration.', $json['data']['message'] );
	}

	public function test_the_page_script_holds_no_token() {
		$this->admin();
		$this->connect();
		$config = PrintBridge_Merchant_Editor::script_config();
		$this->assertSame( PrintBridge_Merchant_Editor::AJAX_SESSION, $config['action'] );
		$this->assertSame( 1, wp_verify_nonce( $config['nonce'], PrintBridge_Merchant_Editor::AJAX_SESSION ) );
		$this->assertStringNotContainsString( 'tok_secret_123', wp_json_encode( $config ) );
	}
}
