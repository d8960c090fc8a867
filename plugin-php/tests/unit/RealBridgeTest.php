<?php
// phpcs:ignoreFile

/**
 * The plugin's bridge client against the real `printbridge` binary (and its Key2print
 * sandbox, which checks the WEBAPI signature): the contract between plugin and bridge.
 * Needs PRINTBRIDGE_BIN (set by .ci/test after the bridge is built); skipped without it,
 * a failure with PRINTBRIDGE_REQUIRE_ALL=1.
 */
class RealBridgeTest extends PrintBridge_TestCase {

	private static $procs = array();
	private static $dir;
	private static $port;

	private static function free_port() {
		$sock = stream_socket_server( 'tcp://127.0.0.1:0' );
		$port = (int) substr( strrchr( stream_socket_get_name( $sock, false ), ':' ), 1 );
		fclose( $sock );
		return $port;
	}

	private static function wait_for( $port ) {
		$deadline = microtime( true ) + 20;
		while ( microtime( true ) < $deadline ) {
			$c = @fsockopen( '127.0.0.1', $port, $errno, $errstr, 0.2 );
			if ( $c ) {
				fclose( $c );
				return;
			}
			usleep( 50000 );
		}
		throw new RuntimeException( "nothing listens on port $port" );
	}

	private static function start( array $cmd ) {
		$proc = proc_open( $cmd, array( 0 => array( 'file', '/dev/null', 'r' ), 1 => array( 'file', '/dev/null', 'w' ), 2 => array( 'file', '/dev/null', 'w' ) ), $pipes );
		self::$procs[] = $proc;
	}

	public static function setUpBeforeClass(): void {
		$bin = getenv( 'PRINTBRIDGE_BIN' );
		if ( ! $bin || ! is_executable( $bin ) ) {
			return;
		}
		self::$dir = sys_get_temp_dir() . '/pb-real-' . getmypid();
		@mkdir( self::$dir );
		// The sandbox takes three consecutive ports: Spiff, Apliiq, Key2print.
		$sandbox = 20000 + ( getmypid() % 20000 );
		self::start( array( $bin, 'sandbox', '--port', (string) $sandbox ) );
		self::wait_for( $sandbox + 2 );
		self::$port = self::free_port();
		$config     = self::$dir . '/bridge.toml';
		file_put_contents(
			$config,
			'listen = "127.0.0.1:' . self::$port . "\"\n" .
			'database_url = "sqlite://' . self::$dir . "/bridge.db\"\n" .
			'data_dir = "' . self::$dir . "/data\"\n" .
			'public_url = "http://127.0.0.1:' . self::$port . "\"\n" .
			"[dispatch]\nenabled = false\n" .
			"[[stores]]\nid = \"shop\"\nwebhook_secret = \"w\"\napi_token = \"tok_live\"\n" .
			"[stores.key2print]\nbase_url = \"http://127.0.0.1:" . ( $sandbox + 2 ) . "\"\napi_key = \"sandbox-key2print-key\"\napi_secret = \"sandbox-key2print-secret\"\n" .
			// A store whose Key2print sessions the bridge limits to one a minute.
			"[[stores]]\nid = \"busy\"\nwebhook_secret = \"w2\"\napi_token = \"tok_busy\"\n" .
			"[stores.key2print]\nbase_url = \"http://127.0.0.1:" . ( $sandbox + 2 ) . "\"\napi_key = \"sandbox-key2print-key\"\napi_secret = \"sandbox-key2print-secret\"\nsessions_per_minute = 1\n"
		);
		self::start( array( $bin, 'serve', '--config', $config ) );
		self::wait_for( self::$port );
	}

	public static function tearDownAfterClass(): void {
		foreach ( self::$procs as $proc ) {
			proc_terminate( $proc );
			proc_close( $proc );
		}
		self::$procs = array();
	}

	protected function setUp(): void {
		parent::setUp();
		if ( ! self::$port ) {
			if ( '1' === getenv( 'PRINTBRIDGE_REQUIRE_ALL' ) ) {
				$this->fail( 'PRINTBRIDGE_BIN is not set to the built printbridge binary' );
			}
			$this->markTestSkipped( 'PRINTBRIDGE_BIN is not set' );
		}
		remove_filter( 'pre_http_request', array( $this, 'intercept_http' ), 10 ); // Real HTTP here.
		PrintBridge_Settings::update( array( 'bridge_url' => 'http://127.0.0.1:' . self::$port, 'store_id' => 'shop', 'store_token' => 'tok_live', 'webhook_secret' => 'w' ) );
	}

	public function test_connection_test_reports_the_real_bridge() {
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertTrue( $result['ok'], $result['message'] );
		$this->assertStringContainsString( 'as store "shop"', $result['message'] );
		$this->assertStringContainsString( 'Key2print', $result['message'] );
		$this->assertStringNotContainsString( 'Warning: the bridge expects webhooks', $result['message'] );
	}

	public function test_wrong_token_is_refused() {
		PrintBridge_Settings::update( array( 'store_token' => 'tok_wrong' ) );
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'refused the store token', $result['message'] );
	}

	public function test_session_for_the_plugins_own_request_body() {
		$id   = $this->product(
			array(
				'_printbridge_provider'                => 'key2print',
				'_printbridge_key2print_template_id'   => '',
				'_printbridge_key2print_editor_colors' => '{"primary":"#0055aa"}',
				'_printbridge_key2print_hidden_tabs'   => 'images,qr',
				'_printbridge_key2print_gateway'       => 'yes',
			)
		);
		$body = PrintBridge_Product_Page::key2print_session_request( wc_get_product( $id ), null, 'guest-abc123' );
		$session = PrintBridge_Bridge_Client::from_settings()->key2print_session( $body );
		$this->assertIsArray( $session, is_wp_error( $session ) ? $session->get_error_message() : '' );
		$this->assertNotEmpty( $session['token'] );
		$this->assertNotEmpty( $session['user_id'] );
	}

	public function test_the_bridges_session_limit_reaches_the_customer_as_a_plain_message() {
		PrintBridge_Settings::update( array( 'store_id' => 'busy', 'store_token' => 'tok_busy', 'webhook_secret' => 'w2' ) );
		$id  = $this->product( array( '_printbridge_provider' => 'key2print', '_printbridge_key2print_gateway' => 'no' ) );
		$ask = static function () use ( $id ) {
			$_POST = $_REQUEST = array(
				'nonce'      => wp_create_nonce( PrintBridge_Product_Page::AJAX_K2P_SESSION ),
				'product_id' => (string) $id,
			);
			$answer = printbridge_run_ajax( array( 'PrintBridge_Product_Page', 'ajax_k2p_session' ) );
			$_POST  = $_REQUEST = array();
			return $answer;
		};
		list( $first ) = $ask();
		list( $second, $raw ) = $ask();
		if ( WC()->session ) {
			WC()->session->set( PrintBridge_Product_Page::GUEST_SESSION_KEY, null );
		}

		$this->assertTrue( $first['success'], wp_json_encode( $first ) );
		$this->assertFalse( $second['success'] );
		$this->assertStringStartsWith( 'The editor is busy right now. Please ', $second['data']['message'] );
		$this->assertGreaterThanOrEqual( 1, $second['data']['retry_after'] );
		$this->assertLessThanOrEqual( 60, $second['data']['retry_after'] );
		$this->assertStringNotContainsString( 'sessions_per_minute', $raw );
		$this->assertStringNotContainsString( 'tok_busy', $raw );
	}

	public function test_the_bridge_reads_the_plugins_price_request() {
		// The bridge holds no WooCommerce REST keys for "shop": it reads the request (a body it
		// could not read would be a 400 naming the field) and says it cannot read the catalog.
		$client = PrintBridge_Bridge_Client::from_settings();
		$answer = $client->key2print_price( 29, 33, array( 'pa_format' => 'a5', 'speed' => 'express' ) );
		$this->assertTrue( is_wp_error( $answer ) );
		$this->assertSame( array( 'status' => 409, 'error' => 'rest_keys_missing' ), $answer->get_error_data() );
		$this->assertSame( 409, $client->key2print_price( 29, 0, array() )->get_error_data()['status'] );
		$this->assertSame( 'invalid_product_id', $client->key2print_price( 0, 0, array() )->get_error_data()['error'] );
		// Which the customer sees as a plain message.
		$this->assertStringContainsString( 'could not be determined right now', PrintBridge_Cart_Price::refusal_message( $answer ) );
	}

	public function test_unknown_order_retry_and_file() {
		$client = PrintBridge_Bridge_Client::from_settings();
		$this->assertSame( 'printbridge_not_found', $client->order( 424242 )->get_error_code() );
		$this->assertSame( array( 'replayed' => 0 ), $client->retry_order( 424242 ) );
		$file = $client->file( '999' );
		$this->assertTrue( is_wp_error( $file ) );
		$this->assertSame( 404, $file->get_error_data()['status'] );
	}

	/**
	 * Delivers a signed order of `$email` to the real bridge, as WooCommerce's webhook does.
	 */
	private function deliver_order( $order_id, $email ) {
		$address = array(
			'first_name' => 'Grace',
			'last_name'  => 'Hopper',
			'address_1'  => '1 Navy Way',
			'city'       => 'Arlington',
			'postcode'   => '22202',
			'country'    => 'US',
			'email'      => $email,
			'phone'      => '+1 555 0100',
		);
		$body    = wp_json_encode(
			array(
				'id'                => $order_id,
				'number'            => (string) $order_id,
				'status'            => 'processing',
				'currency'          => 'EUR',
				'date_created_gmt'  => '2026-11-23T06:00:00',
				'date_modified_gmt' => '2026-11-23T08:00:00',
				'total'             => '12.50',
				'customer_id'       => 0,
				'customer_note'     => 'Ring twice',
				'billing'           => $address,
				'shipping'          => $address,
				'line_items'        => array(
					array(
						'id'        => 1,
						'name'      => 'Mug',
						'quantity'  => 1,
						'sku'       => 'MUG',
						'price'     => 12.5,
						'meta_data' => array(
							array(
								'id'    => 1,
								'key'   => '_printbridge_spiff_transaction_id',
								'value' => '33333333-0000-4000-8000-000000007001',
							),
						),
					),
				),
			)
		);
		$response = wp_remote_post(
			'http://127.0.0.1:' . self::$port . '/v1/webhooks/woocommerce/shop',
			array(
				'headers' => array(
					'Content-Type'           => 'application/json',
					'X-WC-Webhook-Topic'     => 'order.updated',
					'X-WC-Webhook-Signature' => base64_encode( hash_hmac( 'sha256', $body, 'w', true ) ),
				),
				'body'    => $body,
			)
		);
		$this->assertSame( 200, wp_remote_retrieve_response_code( $response ), wp_remote_retrieve_body( $response ) );
	}

	/** The position (from 1) of the plugin's entry among WordPress's exporters or erasers. */
	private static function position( array $registered ) {
		return array_search( PrintBridge_Privacy::KEY, array_keys( $registered ), true ) + 1;
	}

	public function test_wordpress_privacy_tools_export_and_erase_at_the_bridge() {
		require_once ABSPATH . 'wp-admin/includes/privacy-tools.php';
		$email = 'grace.hopper@example.test';
		$this->deliver_order( 7001, $email );

		// Export, through WordPress's own page processing. A last exporter after the plugin's
		// makes WordPress keep the data it gathered instead of writing the export file.
		add_filter(
			'wp_privacy_personal_data_exporters',
			static function ( $exporters ) {
				$exporters['zz-last'] = array(
					'exporter_friendly_name' => 'last',
					'callback'               => static fn() => array( 'data' => array(), 'done' => true ),
				);
				return $exporters;
			},
			9999
		);
		$request   = wp_create_user_request( $email, 'export_personal_data' );
		$this->assertIsInt( $request );
		$exporters = apply_filters( 'wp_privacy_personal_data_exporters', array() );
		$index     = self::position( $exporters );
		$page      = 1;
		do {
			$answer = call_user_func( $exporters[ PrintBridge_Privacy::KEY ]['callback'], $email, $page );
			$this->assertIsArray( $answer, is_wp_error( $answer ) ? $answer->get_error_message() : '' );
			$answer = wp_privacy_process_personal_data_export_page( $answer, $index, $email, $page, $request, false, PrintBridge_Privacy::KEY );
			++$page;
		} while ( ! $answer['done'] );
		$items = array_values( array_filter( (array) get_post_meta( $request, '_export_data_raw', true ), static fn( $i ) => 'printbridge-order-7001' === $i['item_id'] ) );
		$this->assertCount( 1, $items );
		$values = wp_json_encode( wp_list_pluck( $items[0]['data'], 'value' ) );
		$this->assertStringContainsString( 'Hopper', $values );
		$this->assertStringContainsString( 'spiff: pending after 0 attempt(s)', $values );

		// Erase: the job not yet sent is cancelled, and WordPress's screen says so.
		$request = wp_create_user_request( $email, 'remove_personal_data' );
		$this->assertIsInt( $request );
		$erasers = apply_filters( 'wp_privacy_personal_data_erasers', array() );
		$answer  = call_user_func( $erasers[ PrintBridge_Privacy::KEY ]['callback'], $email, 1 );
		$this->assertIsArray( $answer, is_wp_error( $answer ) ? $answer->get_error_message() : '' );
		$answer = wp_privacy_process_personal_data_erasure_page( $answer, self::position( $erasers ), $email, 1, $request );
		$this->assertTrue( $answer['items_removed'] );
		$this->assertTrue( $answer['done'] );
		$this->assertContains( 'Order 7001: print jobs not yet sent were cancelled (Spiff); they will not be sent.', $answer['messages'] );

		// The bridge holds nothing more of the customer, and never sends the job.
		$client = PrintBridge_Bridge_Client::from_settings();
		$again  = $client->privacy_export( array( 'email' => $email, 'customer_id' => 0, 'after' => 0 ) );
		$this->assertSame( array(), $again['orders'] );
		$this->assertSame( 'cancelled', $client->order( 7001 )['provider_orders'][0]['state'] );
		$this->assertSame( array( 'replayed' => 0 ), $client->retry_order( 7001 ) );
	}

	public function test_privacy_tools_without_a_bridge_report_nothing_held() {
		PrintBridge_Settings::update( array( 'bridge_url' => '', 'store_token' => '' ) );
		$this->assertSame( array( 'data' => array(), 'done' => true ), PrintBridge_Privacy::export( 'x@example.test', 1 ) );
		$this->assertFalse( PrintBridge_Privacy::erase( 'x@example.test', 1 )['items_removed'] );
	}
}
