<?php
// phpcs:ignoreFile

class ProductTest extends PrintBridge_TestCase {

	private function k2p_product( $gateway = 'yes' ) {
		return $this->product(
			array(
				'_printbridge_provider'                 => 'key2print',
				'_printbridge_key2print_template_id'    => 'tpl-7',
				'_printbridge_key2print_editor_colors'  => '{"primary":"#0055aa"}',
				'_printbridge_key2print_hidden_tabs'    => 'images,qr',
				'_printbridge_key2print_gateway'        => $gateway,
			)
		);
	}

	public function test_panel_input_is_sanitised() {
		$meta = PrintBridge_Product_Settings::sanitize(
			array(
				'printbridge_provider'                     => 'key2print',
				'printbridge_spiff_integration_product_id' => '649dfe36-bd0a"><script>',
				'printbridge_k2p_template_id'              => 'tpl 7',
				'printbridge_k2p_colors'                   => "primary: #0055AA\nbad: red\naccent=#fff\n<x>: #000",
				'printbridge_k2p_hidden_tabs'              => 'images, qr,images, <b>',
				'printbridge_k2p_gateway'                  => 'yes',
				'printbridge_k2p_page_count'               => '11',
				'printbridge_k2p_template_format_id'       => 'b6233983-8eb8-11ea-ba23-0242ac120003',
				'printbridge_k2p_placeholders'             => "company_name: company\nphone=phone\nbad name: email\nfax: fax",
			)
		);
		$this->assertSame(
			array(
				'_printbridge_provider'                     => 'key2print',
				'_printbridge_spiff_integration_product_id' => '649dfe36-bd0a',
				'_printbridge_key2print_template_id'        => 'tpl7',
				'_printbridge_key2print_editor_colors'      => '{"primary":"#0055aa","accent":"#fff"}',
				'_printbridge_key2print_hidden_tabs'        => 'images,qr',
				'_printbridge_key2print_gateway'            => 'yes',
				'_printbridge_key2print_page_count'         => '11',
				'_printbridge_key2print_template_format_id' => 'b6233983-8eb8-11ea-ba23-0242ac120003',
				'_printbridge_key2print_placeholders'       => '{"company_name":"company","phone":"phone"}',
			),
			$meta
		);
		$this->assertSame( 'none', PrintBridge_Product_Settings::sanitize( array( 'printbridge_provider' => 'apliiq' ) )['_printbridge_provider'] );
	}

	public function test_saving_a_key2print_product_flushes_the_bridge_cache() {
		$this->admin();
		$this->connect();
		$id    = $this->product();
		$_POST = array(
			'printbridge_product_nonce'   => wp_create_nonce( PrintBridge_Product_Admin::NONCE ),
			'printbridge_provider'        => 'key2print',
			'printbridge_k2p_template_id' => 'tpl-7',
		);
		$this->responder = function () {
			return self::response( 200, array( 'flushed' => true ) );
		};
		do_action( 'woocommerce_process_product_meta', $id );
		$this->assertSame( 'key2print', get_post_meta( $id, '_printbridge_provider', true ) );
		$this->assertSame( 'tpl-7', get_post_meta( $id, '_printbridge_key2print_template_id', true ) );
		$this->assertCount( 1, $this->requests );
		$r = $this->requests[0];
		$this->assertSame( 'https://bridge.test/v1/stores/shop/key2print/cache/flush', $r['url'] );
		$this->assertSame( 'POST', $r['args']['method'] );
		$this->assertSame( 'Bearer tok_secret_123', $r['args']['headers']['Authorization'] );
		$this->assertSame( 'application/json', $r['args']['headers']['Content-Type'] );
		$this->assertSame( '{"product_id":' . $id . '}', $r['args']['body'] );
	}

	public function test_saving_without_nonce_or_capability_changes_nothing() {
		$this->connect();
		$id    = $this->product();
		$_POST = array( 'printbridge_product_nonce' => wp_create_nonce( PrintBridge_Product_Admin::NONCE ), 'printbridge_provider' => 'spiff' );
		do_action( 'woocommerce_process_product_meta', $id ); // Logged out.
		$this->assertSame( '', get_post_meta( $id, '_printbridge_provider', true ) );
		$this->admin();
		$_POST['printbridge_product_nonce'] = 'bad';
		do_action( 'woocommerce_process_product_meta', $id );
		$this->assertSame( '', get_post_meta( $id, '_printbridge_provider', true ) );
		$this->assertCount( 0, $this->requests );
	}

	public function test_key2print_session_request_body_for_a_customer() {
		$id   = $this->k2p_product();
		$user = get_user_by( 'id', wp_insert_user( array( 'user_login' => 'ann' . wp_rand(), 'user_pass' => 'x', 'user_email' => 'ann' . wp_rand() . '@example.org', 'first_name' => 'Ann', 'last_name' => 'Lee' ) ) );
		$body = PrintBridge_Product_Page::key2print_session_request( wc_get_product( $id ), $user, '' );
		$this->assertSame(
			json_encode(
				array(
					'mode'               => 'user',
					'customer'           => array( 'id' => $user->ID, 'email' => $user->user_email, 'first_name' => 'Ann', 'last_name' => 'Lee', 'guest_key' => '' ),
					'product_id'         => $id,
					'project_id'         => null,
					'template_id'        => 'tpl-7',
					'editor'             => array( 'colors' => array( 'primary' => '#0055aa' ), 'hidden_tabs' => array( 'images', 'qr' ) ),
					'gateway'            => true,
					'placeholder_values' => array( 'customer_name' => array( 'value' => 'Ann Lee' ) ),
				)
			),
			wp_json_encode( $body )
		);
	}

	public function test_guest_session_is_started_server_side_and_only_the_token_reaches_the_browser() {
		$this->connect();
		$id                                            = $this->k2p_product( 'no' );
		$_COOKIE[ PrintBridge_Product_Page::GUEST_COOKIE ] = '2b1f0e4c-9a8d-4c7b-8e6f-5a4b3c2d1e0f';
		$this->responder = function () {
			return self::response( 200, array( 'token' => 'k2p-session-token', 'expires_at' => '2026-11-23T11:00:00Z', 'user_id' => 'k2p-user-1', 'editor_url' => null ) );
		};
		$_POST = $_REQUEST = array(
			'nonce'      => wp_create_nonce( PrintBridge_Product_Page::AJAX_K2P_SESSION ),
			'product_id' => (string) $id,
		);
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Product_Page', 'ajax_k2p_session' ) );
		unset( $_COOKIE[ PrintBridge_Product_Page::GUEST_COOKIE ] );
		$_REQUEST = array();

		$this->assertSame( array( 'success' => true, 'data' => array( 'token' => 'k2p-session-token', 'expires_at' => '2026-11-23T11:00:00Z' ) ), $json );
		$this->assertStringNotContainsString( 'tok_secret_123', $raw );
		$this->assertCount( 1, $this->requests );
		$r = $this->requests[0];
		$this->assertSame( 'https://bridge.test/v1/stores/shop/key2print/sessions', $r['url'] );
		$this->assertSame( 'POST', $r['args']['method'] );
		$this->assertSame( 'Bearer tok_secret_123', $r['args']['headers']['Authorization'] );
		$this->assertSame(
			'{"mode":"user","customer":{"id":null,"email":"","first_name":"","last_name":"","guest_key":"2b1f0e4c-9a8d-4c7b-8e6f-5a4b3c2d1e0f"},"product_id":' . $id . ',"project_id":null,"template_id":"tpl-7","editor":{"colors":{"primary":"#0055aa"},"hidden_tabs":["images","qr"]},"gateway":false,"placeholder_values":{}}',
			$r['args']['body']
		);
	}

	public function test_session_ajax_refuses_bad_nonce_and_other_products() {
		$this->connect();
		$spiff = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		$_POST = $_REQUEST = array( 'nonce' => 'bad', 'product_id' => (string) $spiff );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Product_Page', 'ajax_k2p_session' ) );
		$this->assertFalse( $json['success'] );
		$_POST['nonce'] = $_REQUEST['nonce'] = wp_create_nonce( PrintBridge_Product_Page::AJAX_K2P_SESSION );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Product_Page', 'ajax_k2p_session' ) );
		$this->assertFalse( $json['success'] );
		$this->assertCount( 0, $this->requests );
		$_REQUEST = array();
	}

	public function test_browser_config_and_fields_hold_no_secret() {
		$this->connect();
		PrintBridge_Settings::learn_from_status(
			array(
				'store' => 'shop',
				'spiff' => array(
					'region'          => 'au',
					'api_js_url'      => 'https://assets.us.spiffcommerce.com/api.js',
					'application_key' => 'spiff-app-key',
				),
			)
		);
		$spiff  = $this->product( array( '_printbridge_provider' => 'spiff', '_printbridge_spiff_integration_product_id' => 'ip-1' ) );
		$config = PrintBridge_Product_Page::config( wc_get_product( $spiff ) );
		$this->assertSame( 'spiff', $config['provider'] );
		$this->assertSame(
			array(
				'integrationProductId' => 'ip-1',
				'currency'             => 'EUR',
				'region'               => 'au',
				'applicationKey'       => 'spiff-app-key',
			),
			$config['spiff']
		);
		$this->assertStringNotContainsString( 'tok_secret_123', wp_json_encode( $config ) );
		$this->assertStringNotContainsString( 'whsec_456', wp_json_encode( $config ) );
		$this->assertSame( 'https://assets.us.spiffcommerce.com/api.js', PrintBridge_Settings::spiff_api_js_url() );
		$this->assertNull( PrintBridge_Product_Page::config( wc_get_product( $this->product() ) ) );

		ob_start();
		PrintBridge_Product_Page::render_fields( wc_get_product( $spiff ) );
		$html = ob_get_clean();
		$this->assertStringContainsString( '<input type="hidden" id="printbridge-design-id" name="printbridge_design_id" value="" />', $html );
		$this->assertMatchesRegularExpression( '/name="printbridge_nonce" value="([0-9a-f]{10})"/', $html );
		preg_match( '/name="printbridge_nonce" value="([0-9a-f]{10})"/', $html, $m );
		$this->assertSame( 1, wp_verify_nonce( $m[1], PrintBridge_Cart::nonce_action( $spiff ) ) );
		$this->assertStringContainsString( 'id="printbridge-personalise"', $html );
		$this->assertStringNotContainsString( 'printbridge-k2p-editor', $html );
	}

	public function test_scripts_are_enqueued_with_the_configured_urls() {
		PrintBridge_Settings::update( array( 'k2p_wrapper_url' => 'https://editor.example/js/wrapper.js' ) );
		$k2p = $this->k2p_product();
		$this->assertTrue( PrintBridge_Product_Page::enqueue_for( wc_get_product( $k2p ) ) );
		$scripts = wp_scripts();
		$this->assertSame( 'https://editor.example/js/wrapper.js', $scripts->registered['printbridge-k2p-wrapper']->src );
		$this->assertSame( array( 'printbridge-k2p-wrapper' ), $scripts->registered['printbridge-product']->deps );
		$this->assertStringContainsString( '"gateway":true', $scripts->get_data( 'printbridge-product', 'data' ) );
		$this->assertFalse( PrintBridge_Product_Page::enqueue_for( wc_get_product( $this->product() ) ) );
	}
}
