<?php
// phpcs:ignoreFile

/**
 * Guests' Key2print work sessions: one Key2print user per guest while the shop knows the guest,
 * per-visitor limits, and the bridge's per-store 429.
 */
class Key2printSessionLimitTest extends PrintBridge_TestCase {

	/** @var string|null REMOTE_ADDR before the test. */
	private $remote_addr;

	protected function setUp(): void {
		parent::setUp();
		$this->remote_addr = isset( $_SERVER['REMOTE_ADDR'] ) ? $_SERVER['REMOTE_ADDR'] : null;
		$_SERVER['REMOTE_ADDR'] = '203.0.113.5';
		$this->forget_guest();
		$this->connect();
		// The limits count on a pinned clock (10:00:30 UTC): no window ends mid-test.
		add_filter(
			'printbridge_key2print_session_limit_time',
			static function () {
				return 1796637630;
			}
		);
	}

	protected function tearDown(): void {
		$this->forget_guest();
		if ( null === $this->remote_addr ) {
			unset( $_SERVER['REMOTE_ADDR'] );
		} else {
			$_SERVER['REMOTE_ADDR'] = $this->remote_addr;
		}
		remove_all_filters( 'printbridge_key2print_session_limits' );
		remove_all_filters( 'printbridge_client_ip' );
		remove_all_filters( 'printbridge_key2print_session_limit_time' );
		parent::tearDown();
	}

	/** As a script that drops its cookies: no guest cookie, no WooCommerce session data. */
	private function forget_guest() {
		unset( $_COOKIE[ PrintBridge_Product_Page::GUEST_COOKIE ] );
		if ( WC()->session ) {
			WC()->session->set( PrintBridge_Product_Page::GUEST_SESSION_KEY, null );
		}
	}

	private function k2p_product() {
		return $this->product(
			array(
				'_printbridge_provider'              => 'key2print',
				'_printbridge_key2print_template_id' => 'tpl-7',
				'_printbridge_key2print_gateway'     => 'no',
			)
		);
	}

	private function limits( array $limits ) {
		add_filter(
			'printbridge_key2print_session_limits',
			static function () use ( $limits ) {
				return $limits;
			}
		);
	}

	private function bridge_answers_sessions() {
		$this->responder = function () {
			return self::response( 200, array( 'token' => 'k2p-session-token', 'expires_at' => '2026-11-23T11:00:00Z', 'user_id' => 'k2p-user-1' ) );
		};
	}

	/** Runs the AJAX action: [decoded JSON, raw output]. */
	private function ask( $product_id ) {
		$_POST = $_REQUEST = array(
			'nonce'      => wp_create_nonce( PrintBridge_Product_Page::AJAX_K2P_SESSION ),
			'product_id' => (string) $product_id,
		);
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Product_Page', 'ajax_k2p_session' ) );
		$_POST = $_REQUEST = array();
		return array( $json, $raw );
	}

	/** The guest key of each session request sent to the bridge. */
	private function sent_guest_keys() {
		return array_map(
			static function ( $r ) {
				$body = json_decode( $r['args']['body'], true );
				return $body['customer']['guest_key'];
			},
			$this->requests
		);
	}

	public function test_a_guest_without_the_cookie_keeps_one_key_for_the_woocommerce_session() {
		$id = $this->k2p_product();
		$this->bridge_answers_sessions();
		list( $first ) = $this->ask( $id );
		unset( $_COOKIE[ PrintBridge_Product_Page::GUEST_COOKIE ] );
		list( $second ) = $this->ask( $id );

		$this->assertTrue( $first['success'] );
		$this->assertTrue( $second['success'] );
		$keys = $this->sent_guest_keys();
		$this->assertCount( 2, $keys );
		$this->assertMatchesRegularExpression( '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/', $keys[0] );
		$this->assertSame( $keys[0], $keys[1], 'the second click reuses the guest (and so its Key2print user)' );
		$this->assertSame( $keys[0], WC()->session->get( PrintBridge_Product_Page::GUEST_SESSION_KEY ) );
		$this->assertTrue( WC()->session->has_session() );
	}

	public function test_a_malformed_guest_cookie_is_not_sent_to_the_bridge() {
		$id = $this->k2p_product();
		$this->bridge_answers_sessions();
		$_COOKIE[ PrintBridge_Product_Page::GUEST_COOKIE ] = '--------------------------------zz--';
		$this->ask( $id );
		$keys = $this->sent_guest_keys();
		$this->assertCount( 1, $keys );
		$this->assertMatchesRegularExpression( '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/', $keys[0] );
		$this->assertMatchesRegularExpression( '/^[0-9a-f-]{36}$/', $keys[0] );
	}

	public function test_guests_dropping_their_cookies_are_limited_per_minute_per_ip() {
		$id = $this->k2p_product();
		$this->bridge_answers_sessions();
		$this->limits( array( 'per_minute' => 2, 'per_hour' => 0, 'new_guests_per_hour' => 0 ) );
		$answers = array();
		for ( $i = 0; $i < 3; $i++ ) {
			$this->forget_guest();
			$answers[] = $this->ask( $id );
		}

		$this->assertTrue( $answers[0][0]['success'] );
		$this->assertTrue( $answers[1][0]['success'] );
		$this->assertFalse( $answers[2][0]['success'] );
		$this->assertSame( 'The editor is busy right now. Please wait a minute and try again.', $answers[2][0]['data']['message'] );
		$this->assertSame( 30, $answers[2][0]['data']['retry_after'], 'the rest of the minute' );
		$this->assertCount( 2, $this->requests, 'the refused session never reaches the bridge' );

		// Another address has its own count.
		$_SERVER['REMOTE_ADDR'] = '198.51.100.7';
		$this->forget_guest();
		list( $other ) = $this->ask( $id );
		$this->assertTrue( $other['success'] );
		$this->assertCount( 3, $this->requests );
	}

	public function test_the_hourly_limit_answers_in_minutes() {
		$id = $this->k2p_product();
		$this->bridge_answers_sessions();
		$this->limits( array( 'per_minute' => 0, 'per_hour' => 3, 'new_guests_per_hour' => 0 ) );
		$answers = array();
		for ( $i = 0; $i < 4; $i++ ) {
			$answers[] = $this->ask( $id );
		}
		$this->assertCount( 3, $this->requests );
		$refused = $answers[3][0];
		$this->assertFalse( $refused['success'] );
		$this->assertSame( 3570, $refused['data']['retry_after'], 'the rest of the hour' );
		$this->assertSame( 'The editor is busy right now. Please try again in 60 minutes.', $refused['data']['message'] );
	}

	public function test_new_guests_are_limited_per_hour_but_a_known_guest_goes_on() {
		$id = $this->k2p_product();
		$this->bridge_answers_sessions();
		$this->limits( array( 'per_minute' => 0, 'per_hour' => 0, 'new_guests_per_hour' => 2 ) );
		$this->ask( $id );
		$this->forget_guest();
		$this->ask( $id );
		$kept = WC()->session->get( PrintBridge_Product_Page::GUEST_SESSION_KEY );
		$this->forget_guest();
		list( $third ) = $this->ask( $id );

		$this->assertFalse( $third['success'] );
		$this->assertCount( 2, $this->requests );
		$this->assertCount( 2, array_unique( $this->sent_guest_keys() ) );

		// The guest of the second session (its key in the cookie) still gets sessions.
		$_COOKIE[ PrintBridge_Product_Page::GUEST_COOKIE ] = $kept;
		list( $known ) = $this->ask( $id );
		$this->assertTrue( $known['success'] );
		$this->assertSame( $kept, $this->sent_guest_keys()[2] );
	}

	public function test_logged_in_customers_are_counted_by_account() {
		$id = $this->k2p_product();
		$this->bridge_answers_sessions();
		$this->limits( array( 'per_minute' => 1, 'per_hour' => 0, 'new_guests_per_hour' => 0 ) );
		$ann = wp_insert_user( array( 'user_login' => 'ann-limit', 'user_pass' => 'pw-ann-123', 'user_email' => 'ann-limit@example.com', 'role' => 'customer' ) );
		$bob = wp_insert_user( array( 'user_login' => 'bob-limit', 'user_pass' => 'pw-bob-123', 'user_email' => 'bob-limit@example.com', 'role' => 'customer' ) );
		wp_set_current_user( $ann );
		list( $a1 ) = $this->ask( $id );
		list( $a2 ) = $this->ask( $id );
		wp_set_current_user( $bob );
		list( $b1 ) = $this->ask( $id );

		$this->assertTrue( $a1['success'] );
		$this->assertFalse( $a2['success'] );
		$this->assertTrue( $b1['success'] );
		$this->assertCount( 2, $this->requests );
	}

	public function test_client_id_groups_ipv6_by_network_and_rejects_junk() {
		$_SERVER['REMOTE_ADDR'] = '2001:db8:1:2::1';
		$a                      = PrintBridge_Product_Page::client_id( null );
		$_SERVER['REMOTE_ADDR'] = '2001:db8:1:2:ffff::9';
		$this->assertSame( $a, PrintBridge_Product_Page::client_id( null ) );
		$this->assertSame( 'ip:2001:db8:1:2::/64', $a );
		$_SERVER['REMOTE_ADDR'] = '2001:db8:1:3::1';
		$this->assertNotSame( $a, PrintBridge_Product_Page::client_id( null ) );
		$_SERVER['REMOTE_ADDR'] = '<script>';
		$this->assertSame( 'ip:unknown', PrintBridge_Product_Page::client_id( null ) );
		add_filter(
			'printbridge_client_ip',
			static function () {
				return '192.0.2.44';
			}
		);
		$this->assertSame( 'ip:192.0.2.44', PrintBridge_Product_Page::client_id( null ) );
	}

	public function test_limits_filter_is_sanitised() {
		$this->limits( array( 'per_minute' => -4, 'per_hour' => 'lots' ) );
		$this->assertSame( array( 'per_minute' => 0, 'per_hour' => 30, 'new_guests_per_hour' => 5 ), PrintBridge_Product_Page::session_limits() );
		remove_all_filters( 'printbridge_key2print_session_limits' );
		$this->assertSame( array( 'per_minute' => 5, 'per_hour' => 30, 'new_guests_per_hour' => 5 ), PrintBridge_Product_Page::session_limits() );
	}

	/** A 429 from the bridge, with Retry-After and its JSON problem. */
	private static function bridge_429( $retry_after ) {
		$response                            = self::response( 429, array( 'error' => 'too_many_sessions', 'message' => 'more than 20 Key2print sessions a minute for store shop (key2print.sessions_per_minute); retry in 30 s', 'field' => 'store' ) );
		$response['headers']['retry-after'] = (string) $retry_after;
		return $response;
	}

	public function test_the_bridges_429_reaches_the_customer_as_a_plain_message() {
		$id              = $this->k2p_product();
		$this->responder = function () {
			return self::bridge_429( 30 );
		};
		list( $json, $raw ) = $this->ask( $id );

		$this->assertSame(
			array(
				'success' => false,
				'data'    => array(
					'message'     => 'The editor is busy right now. Please wait a minute and try again.',
					'retry_after' => 30,
				),
			),
			$json
		);
		$this->assertStringNotContainsString( 'sessions_per_minute', $raw );
		$this->assertStringNotContainsString( 'tok_secret_123', $raw );
		$this->assertCount( 1, $this->requests );

		$this->responder = function () {
			return self::bridge_429( 600 );
		};
		list( $json ) = $this->ask( $id );
		$this->assertSame( 'The editor is busy right now. Please try again in 10 minutes.', $json['data']['message'] );
		$this->assertSame( 600, $json['data']['retry_after'] );
	}

	public function test_bridge_client_reads_retry_after_into_the_error() {
		$this->responder = function () {
			return self::bridge_429( 'soon' );
		};
		$error = PrintBridge_Bridge_Client::from_settings()->key2print_session( array( 'mode' => 'user' ) );
		$this->assertInstanceOf( WP_Error::class, $error );
		$this->assertSame( 'printbridge_rate_limited', $error->get_error_code() );
		$this->assertSame( 429, $error->get_error_data()['status'] );
		$this->assertSame( 'too_many_sessions', $error->get_error_data()['error'] );
		$this->assertSame( 60, $error->get_error_data()['retry_after'] );

		$this->responder = function () {
			return self::bridge_429( 99999 );
		};
		$error = PrintBridge_Bridge_Client::from_settings()->key2print_session( array( 'mode' => 'user' ) );
		$this->assertSame( 3600, $error->get_error_data()['retry_after'] );
	}
}
