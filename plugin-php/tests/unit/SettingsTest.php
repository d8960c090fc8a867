<?php
// phpcs:ignoreFile

class SettingsTest extends PrintBridge_TestCase {

	private static function key( array $data ) {
		return 'pbk1_' . rtrim( strtr( base64_encode( json_encode( $data ) ), '+/', '-_' ), '=' );
	}

	private static function good_key() {
		return self::key( array( 'url' => 'https://bridge.example.com/', 'store' => 'shop', 'token' => 'tok_abc', 'webhook_secret' => 'sec_def' ) );
	}

	public function test_connection_key_fills_the_four_fields() {
		$parsed = PrintBridge_Settings::parse_connection_key( '  ' . self::good_key() . "\n" );
		$this->assertSame(
			array( 'bridge_url' => 'https://bridge.example.com', 'store_id' => 'shop', 'store_token' => 'tok_abc', 'webhook_secret' => 'sec_def' ),
			$parsed
		);
	}

	public function test_bad_connection_keys_are_refused_plainly() {
		$cases = array(
			'pbk2_abc'                                                                       => 'printbridge_key_prefix',
			'pbk1_***'                                                                       => 'printbridge_key_encoding',
			'pbk1_' . rtrim( strtr( base64_encode( 'not json' ), '+/', '-_' ), '=' )         => 'printbridge_key_json',
			self::key( array( 'url' => 'https://b', 'store' => 'shop', 'token' => 't' ) )   => 'printbridge_key_field',
			self::key( array( 'url' => 'ftp://b', 'store' => 's', 'token' => 't', 'webhook_secret' => 'w' ) ) => 'printbridge_key_url',
			self::key( array( 'url' => 'https://b', 'store' => 'a/b', 'token' => 't', 'webhook_secret' => 'w' ) ) => 'printbridge_key_store',
		);
		foreach ( $cases as $key => $code ) {
			$result = PrintBridge_Settings::parse_connection_key( $key );
			$this->assertInstanceOf( WP_Error::class, $result, $key );
			$this->assertSame( $code, $result->get_error_code(), $key );
		}
	}

	public function test_saving_a_key_connects_and_creates_both_webhooks() {
		$admin  = $this->admin();
		$result = PrintBridge_Settings_Page::save( array( 'printbridge_connection_key' => self::good_key() ), $admin->ID );
		$this->assertSame( array(), $result['errors'] );
		$this->assertTrue( PrintBridge_Settings::is_connected() );
		$this->assertSame( 'tok_abc', PrintBridge_Settings::get( 'store_token' ) );

		$hooks = self::webhooks();
		$this->assertCount( 2, $hooks );
		$topics = array();
		foreach ( $hooks as $id => $h ) {
			$topics[] = $h['topic'];
			$this->assertSame( 'https://bridge.example.com/v1/webhooks/woocommerce/shop', $h['delivery_url'] );
			$this->assertSame( 'sec_def', $h['secret'] );
			$this->assertSame( 'wp_api_v3', $h['api_version'] );
			$this->assertSame( 'active', $h['status'] );
			$this->assertSame( $admin->ID, $h['user_id'] );
		}
		sort( $topics );
		$this->assertSame( array( 'order.created', 'order.updated' ), $topics );
		$this->assertSame( array_keys( $hooks ), array_values( $result['webhooks'] ) );
	}

	public function test_saving_again_updates_the_same_webhooks() {
		$admin = $this->admin();
		PrintBridge_Settings_Page::save( array( 'printbridge_connection_key' => self::good_key() ), $admin->ID );
		$before = self::webhooks();
		PrintBridge_Settings_Page::save(
			array(
				'printbridge_bridge_url'     => 'https://new-bridge.example.com',
				'printbridge_store_id'       => 'shop',
				'printbridge_store_token'    => '',
				'printbridge_webhook_secret' => 'rotated',
			),
			$admin->ID
		);
		$after = self::webhooks();
		$this->assertSame( array_keys( $before ), array_keys( $after ) );
		foreach ( $after as $h ) {
			$this->assertSame( 'https://new-bridge.example.com/v1/webhooks/woocommerce/shop', $h['delivery_url'] );
			$this->assertSame( 'rotated', $h['secret'] );
		}
		// An empty token input keeps the saved token.
		$this->assertSame( 'tok_abc', PrintBridge_Settings::get( 'store_token' ) );
	}

	public function test_invalid_fields_are_reported_and_not_stored() {
		$result = PrintBridge_Settings_Page::save(
			array(
				'printbridge_bridge_url'        => 'javascript:alert(1)',
				'printbridge_store_id'          => 'shop/../x',
				'printbridge_k2p_editor_height' => '100px;background:red',
			),
			0
		);
		$this->assertCount( 3, $result['errors'] );
		$this->assertSame( '', PrintBridge_Settings::get( 'bridge_url' ) );
		$this->assertSame( '', PrintBridge_Settings::get( 'store_id' ) );
		$this->assertSame( '800px', PrintBridge_Settings::get( 'k2p_editor_height' ) );
		$this->assertSame( array(), self::webhooks() );
	}

	public function test_settings_page_never_prints_the_token_or_secret() {
		$this->admin();
		$this->connect();
		ob_start();
		PrintBridge_Settings_Page::render();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'https://bridge.test', $html );
		$this->assertStringContainsString( 'name="printbridge_settings_nonce"', $html );
		$this->assertStringNotContainsString( 'tok_secret_123', $html );
		$this->assertStringNotContainsString( 'whsec_456', $html );
	}

	public function test_settings_page_needs_manage_woocommerce() {
		$this->connect();
		ob_start();
		PrintBridge_Settings_Page::render();
		$this->assertSame( '', ob_get_clean() );
	}

	public function test_test_connection_calls_status_with_the_bearer_token() {
		$this->connect( 'https://bridge.test/' );
		$this->responder = function ( $url, $args ) {
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'spiff', 'apliiq', 'key2print' ), 'webhook_url' => 'https://bridge.test/v1/webhooks/woocommerce/shop', 'rest_keys' => true, 'last_delivery_at' => '2026-11-23T10:00:00Z' ) );
		};
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'https://bridge.test/v1/stores/shop/status', $this->requests[0]['url'] );
		$this->assertSame( 'GET', $this->requests[0]['args']['method'] );
		$this->assertSame( 'Bearer tok_secret_123', $this->requests[0]['args']['headers']['Authorization'] );
		$this->assertArrayNotHasKey( 'body', array_filter( $this->requests[0]['args'], function ( $v ) { return null !== $v && '' !== $v; } ) );
		$this->assertTrue( $result['ok'] );
		$this->assertSame( 'Connected to PrintBridge 0.1.0 as store "shop". Providers: Spiff, Apliiq, Key2print. Last webhook delivery: 2026-11-23T10:00:00Z.', $result['message'] );
	}

	public function test_the_spiff_region_and_script_come_from_the_bridge() {
		$this->connect();
		$this->product( array( '_printbridge_provider' => 'spiff' ) );
		$status          = array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'spiff' ), 'last_delivery_at' => null );
		$this->responder = function ( $url ) use ( &$status ) {
			if ( 'https://assets.spiff.com.au/api.js' === $url ) {
				return self::response( 200, '/* api.js */', 'application/javascript' );
			}
			return self::response( 200, $status );
		};
		// A bridge store without Spiff names no region: the shop says what is missing.
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'the bridge has not named this store\'s Spiff region', $result['message'] );
		$this->assertSame( '', PrintBridge_Settings::spiff_api_js_url() );

		$status['spiff'] = array( 'region' => 'au-legacy', 'api_js_url' => 'https://assets.spiff.com.au/api.js', 'application_key' => 'app-key' );
		$result          = PrintBridge_Settings_Page::test_connection();
		$this->assertTrue( $result['ok'], $result['message'] );
		$this->assertStringContainsString( 'Spiff region: au-legacy.', $result['message'] );
		$this->assertSame( 'https://assets.spiff.com.au/api.js', PrintBridge_Settings::spiff_api_js_url() );
		$this->assertSame( array( 'region' => 'au-legacy', 'api_js_url' => 'https://assets.spiff.com.au/api.js', 'application_key' => 'app-key' ), PrintBridge_Settings::spiff() );

		// The shop owner's override wins over the bridge's script; the region stays the bridge's.
		PrintBridge_Settings::update( array( 'spiff_api_js_url' => 'https://cdn.example/spiff.js' ) );
		$this->assertSame( 'https://cdn.example/spiff.js', PrintBridge_Settings::spiff_api_js_url() );
		$this->assertSame( 'au-legacy', PrintBridge_Settings::spiff()['region'] );

		// A region the plugin does not know is not kept.
		PrintBridge_Settings::learn_from_status( array( 'spiff' => array( 'region' => 'eu', 'api_js_url' => 'https://x.example/api.js' ) ) );
		$this->assertSame( '', PrintBridge_Settings::spiff()['region'] );
		$this->assertSame( '', PrintBridge_Settings::spiff()['api_js_url'] );
	}

	public function test_saving_a_connection_learns_the_spiff_region() {
		$this->admin();
		$this->responder = function ( $url ) {
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'spiff' ), 'spiff' => array( 'region' => 'au', 'api_js_url' => 'https://assets.us.spiffcommerce.com/api.js', 'application_key' => 'k' ) ) );
		};
		PrintBridge_Settings_Page::save(
			array(
				'printbridge_bridge_url'     => 'https://bridge.test',
				'printbridge_store_id'       => 'shop',
				'printbridge_store_token'    => 'tok_secret_123',
				'printbridge_webhook_secret' => 'whsec_456',
			),
			get_current_user_id()
		);
		$this->assertContains( 'https://bridge.test/v1/stores/shop/status', wp_list_pluck( $this->requests, 'url' ) );
		$this->assertSame( 'au', PrintBridge_Settings::spiff()['region'] );
		$this->assertSame( 'https://assets.us.spiffcommerce.com/api.js', PrintBridge_Settings::spiff_api_js_url() );
	}

	public function test_test_connection_reports_problems_plainly() {
		$this->connect();
		$this->responder = function () {
			return self::response( 401, array( 'error' => 'unauthorized', 'message' => 'bad token' ) );
		};
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'refused the store token', $result['message'] );

		$this->responder = function () {
			return new WP_Error( 'http_request_failed', 'cURL error 7: Connection refused' );
		};
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertSame( 'Could not reach the bridge: cURL error 7: Connection refused.', $result['message'] );

		$this->responder = function () {
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array(), 'webhook_url' => 'https://elsewhere/v1/webhooks/woocommerce/shop', 'rest_keys' => false, 'last_delivery_at' => null ) );
		};
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertTrue( $result['ok'] );
		$this->assertStringContainsString( 'Warning: the bridge expects webhooks at https://elsewhere/', $result['message'] );
		$this->assertStringContainsString( 'no WooCommerce REST keys', $result['message'] );
		$this->assertStringContainsString( 'No webhook delivery has arrived yet.', $result['message'] );
	}

	public function test_test_connection_ajax_checks_capability_and_nonce() {
		$this->connect();
		$this->responder = function () {
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'spiff' ), 'last_delivery_at' => null ) );
		};
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Settings_Page', 'ajax_test_connection' ) );
		$this->assertFalse( $json['success'] );
		$this->assertCount( 0, $this->requests );

		$this->admin();
		$_POST['nonce'] = $_REQUEST['nonce'] = 'wrong';
		list( $json, , $die ) = printbridge_run_ajax( array( 'PrintBridge_Settings_Page', 'ajax_test_connection' ) );
		$this->assertNull( $json );
		$this->assertSame( '-1', $die );
		$this->assertCount( 0, $this->requests );

		$_POST['nonce'] = $_REQUEST['nonce'] = wp_create_nonce( PrintBridge_Settings_Page::AJAX_TEST );
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Settings_Page', 'ajax_test_connection' ) );
		$this->assertTrue( $json['success'] );
		$this->assertStringStartsWith( 'Connected to PrintBridge 0.1.0', $json['data']['message'] );
		$this->assertStringNotContainsString( 'tok_secret_123', $raw );
		unset( $_REQUEST['nonce'] );
	}

	public function test_tokens_keep_their_exact_characters() {
		$result = PrintBridge_Settings_Page::save( array( 'printbridge_store_token' => 'a%41b<c>&d', 'printbridge_webhook_secret' => 'has space' ), 0 );
		$this->assertSame( 'a%41b<c>&d', PrintBridge_Settings::get( 'store_token' ) );
		$this->assertSame( '', PrintBridge_Settings::get( 'webhook_secret' ) );
		$this->assertSame( array( 'The store token and the webhook secret may only hold printable characters without spaces.' ), $result['errors'] );
		$bad = self::key( array( 'url' => 'https://b.example', 'store' => 's', 'token' => 'to ken', 'webhook_secret' => 'w' ) );
		$this->assertSame( 'printbridge_key_secret', PrintBridge_Settings::parse_connection_key( $bad )->get_error_code() );
	}

	public function test_woocommerce_settings_save_checks_the_nonce() {
		$this->admin();
		$_POST = array( 'printbridge_settings_nonce' => 'stale', 'printbridge_connection_key' => self::good_key() );
		do_action( 'woocommerce_update_options_printbridge' );
		$this->assertFalse( PrintBridge_Settings::is_connected() );
		$this->assertStringContainsString( 'expired', self::admin_settings_messages() );

		self::reset_admin_settings_messages();
		$_POST['printbridge_settings_nonce'] = wp_create_nonce( PrintBridge_Settings_Page::NONCE );
		do_action( 'woocommerce_update_options_printbridge' );
		$this->assertTrue( PrintBridge_Settings::is_connected() );
		$messages = self::admin_settings_messages();
		$this->assertStringContainsString( 'Connection key accepted.', $messages );
		$this->assertStringContainsString( 'Order webhooks to the bridge are set up.', $messages );
		$this->assertStringNotContainsString( 'expired', $messages );
		$this->assertCount( 2, self::webhooks() );
	}

	public function test_test_connection_uses_a_pasted_unsaved_key() {
		$this->admin();
		$this->responder = function () {
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'spiff' ), 'webhook_url' => 'https://bridge.example.com/v1/webhooks/woocommerce/shop', 'last_delivery_at' => null ) );
		};
		$_POST = $_REQUEST = array( 'nonce' => wp_create_nonce( PrintBridge_Settings_Page::AJAX_TEST ), 'connection_key' => "  " . self::good_key() . "\n" );
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Settings_Page', 'ajax_test_connection' ) );
		$this->assertTrue( $json['success'], $raw );
		$this->assertStringStartsWith( 'Connected to PrintBridge 0.1.0 as store "shop".', $json['data']['message'] );
		$this->assertStringNotContainsString( 'Warning', $json['data']['message'] );
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'https://bridge.example.com/v1/stores/shop/status', $this->requests[0]['url'] );
		$this->assertSame( 'Bearer tok_abc', $this->requests[0]['args']['headers']['Authorization'] );
		$this->assertStringNotContainsString( 'tok_abc', $raw );
		// Testing saves nothing.
		$this->assertFalse( PrintBridge_Settings::is_connected() );
		$this->assertSame( array(), self::webhooks() );
	}

	public function test_test_connection_uses_typed_fields_over_saved_ones_and_refuses_bad_input() {
		$this->admin();
		$this->connect();
		$this->responder = function () {
			return self::response( 200, array( 'store' => 'shop2', 'version' => '0.1.0', 'providers' => array(), 'last_delivery_at' => null ) );
		};
		$nonce = wp_create_nonce( PrintBridge_Settings_Page::AJAX_TEST );
		$_POST = $_REQUEST = array( 'nonce' => $nonce, 'bridge_url' => 'https://other.example/', 'store_id' => 'shop2', 'store_token' => '' );
		list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Settings_Page', 'ajax_test_connection' ) );
		$this->assertTrue( $json['success'] );
		$this->assertSame( 'https://other.example/v1/stores/shop2/status', $this->requests[0]['url'] );
		$this->assertSame( 'Bearer tok_secret_123', $this->requests[0]['args']['headers']['Authorization'] ); // The saved token.

		foreach ( array( array( 'connection_key' => 'pbk1_***' ), array( 'bridge_url' => 'javascript:alert(1)' ), array( 'store_id' => 'a/b' ) ) as $bad ) {
			$_POST = $_REQUEST = array( 'nonce' => $nonce ) + $bad;
			list( $json ) = printbridge_run_ajax( array( 'PrintBridge_Settings_Page', 'ajax_test_connection' ) );
			$this->assertFalse( $json['success'] );
			$this->assertNotSame( '', $json['data']['message'] );
		}
		$this->assertCount( 1, $this->requests );
		$this->assertSame( 'https://bridge.test', PrintBridge_Settings::get( 'bridge_url' ) );
	}

	public function test_unset_key2print_wrapper_is_named_in_a_notice_and_in_test_connection() {
		$this->admin();
		$this->connect();
		$this->responder = function ( $url ) {
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'key2print' ), 'last_delivery_at' => null ) );
		};
		ob_start();
		PrintBridge_Settings_Page::editor_scripts_notice();
		$this->assertSame( '', ob_get_clean(), 'no product uses Key2print yet' );

		$this->product( array( '_printbridge_provider' => 'key2print', '_printbridge_key2print_template_id' => 'tpl-7' ) );
		$expected = 'Key2print editor: the Key2print editor wrapper URL is not set, so customers cannot personalise the products that use Key2print.';
		set_current_screen( 'dashboard' ); // As on an admin page.
		ob_start();
		do_action( 'admin_notices' );
		$html = ob_get_clean();
		$this->assertStringContainsString( '<p>PrintBridge: ' . $expected . '</p>', $html );
		$this->assertStringContainsString( 'page=wc-settings&#038;tab=printbridge', $html );

		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringStartsWith( 'Connected to PrintBridge 0.1.0', $result['message'] );
		$this->assertStringEndsWith( $expected, $result['message'] );

		// Only shop managers see the notice.
		wp_set_current_user( 0 );
		ob_start();
		PrintBridge_Settings_Page::editor_scripts_notice();
		$this->assertSame( '', ob_get_clean() );
	}

	public function test_an_editor_script_that_does_not_load_is_named_by_test_connection() {
		$this->connect();
		PrintBridge_Settings::update( array( 'k2p_wrapper_url' => 'https://editor.example/js/wrapper.js' ) );
		$this->product( array( '_printbridge_provider' => 'key2print' ) );
		$this->product( array( '_printbridge_provider' => 'spiff' ) );
		$this->responder = function ( $url ) {
			if ( 'https://editor.example/js/wrapper.js' === $url ) {
				return self::response( 404, 'not found', 'text/html' );
			}
			if ( PrintBridge_Settings::spiff_api_js_url() === $url ) {
				return self::response( 200, '/* api.js */', 'application/javascript' );
			}
			return self::response( 200, array( 'store' => 'shop', 'version' => '0.1.0', 'providers' => array( 'spiff', 'key2print' ), 'last_delivery_at' => null, 'spiff' => array( 'region' => 'us', 'api_js_url' => 'https://assets.us.spiffcommerce.com/api.js' ) ) );
		};
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringEndsWith( 'Key2print editor: its script https://editor.example/js/wrapper.js does not load (HTTP 404), so customers cannot personalise the products that use Key2print.', $result['message'] );
		$this->assertStringNotContainsString( 'Spiff editor', $result['message'] );
		$this->assertSame( array( 'https://bridge.test/v1/stores/shop/status', PrintBridge_Settings::spiff_api_js_url(), 'https://editor.example/js/wrapper.js' ), wp_list_pluck( $this->requests, 'url' ) );
		// The admin notice does not fetch anything: a set URL is not its business.
		$this->requests = array();
		ob_start();
		PrintBridge_Settings_Page::editor_scripts_notice();
		$this->assertSame( '', ob_get_clean() );
		$this->assertSame( array(), $this->requests );
	}
}
