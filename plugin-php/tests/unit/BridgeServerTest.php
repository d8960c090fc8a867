<?php
// phpcs:ignoreFile

/**
 * The bridge client over real HTTP against a local `php -S` stand-in of the bridge.
 */
class BridgeServerTest extends PrintBridge_TestCase {

	private static $proc;
	private static $port;
	private static $log;

	public static function setUpBeforeClass(): void {
		$sock = stream_socket_server( 'tcp://127.0.0.1:0' );
		self::$port = (int) substr( strrchr( stream_socket_get_name( $sock, false ), ':' ), 1 );
		fclose( $sock );
		self::$log = tempnam( sys_get_temp_dir(), 'pbfake' );
		$cmd        = array( PHP_BINARY, '-S', '127.0.0.1:' . self::$port, dirname( __DIR__ ) . '/bridge/router.php' );
		self::$proc = proc_open( $cmd, array( 0 => array( 'file', '/dev/null', 'r' ), 1 => array( 'file', '/dev/null', 'w' ), 2 => array( 'file', '/dev/null', 'w' ) ), $pipes, null, array( 'PRINTBRIDGE_FAKE_LOG' => self::$log ) );
		$deadline = microtime( true ) + 10;
		while ( microtime( true ) < $deadline ) {
			$c = @fsockopen( '127.0.0.1', self::$port, $errno, $errstr, 0.2 );
			if ( $c ) {
				fclose( $c );
				return;
			}
			usleep( 50000 );
		}
		throw new RuntimeException( 'the fake bridge did not start' );
	}

	public static function tearDownAfterClass(): void {
		if ( self::$proc ) {
			proc_terminate( self::$proc );
			proc_close( self::$proc );
		}
		@unlink( self::$log );
	}

	protected function setUp(): void {
		parent::setUp();
		remove_filter( 'pre_http_request', array( $this, 'intercept_http' ), 10 ); // Real HTTP here.
		file_put_contents( self::$log, '' );
		PrintBridge_Settings::update( array( 'bridge_url' => 'http://127.0.0.1:' . self::$port, 'store_id' => 'shop', 'store_token' => 'tok_live', 'webhook_secret' => 'w' ) );
	}

	private function logged() {
		return array_map( function ( $l ) { return json_decode( $l, true ); }, array_filter( explode( "\n", file_get_contents( self::$log ) ) ) );
	}

	public function test_status_over_http() {
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertTrue( $result['ok'], $result['message'] );
		$this->assertStringStartsWith( 'Connected to PrintBridge 0.1.0 as store "shop". Providers: Spiff, Key2print.', $result['message'] );
		$log = $this->logged();
		$this->assertCount( 1, $log );
		$this->assertSame( array( 'GET', '/v1/stores/shop/status', 'Bearer tok_live' ), array( $log[0]['method'], $log[0]['path'], $log[0]['auth'] ) );
	}

	public function test_wrong_token_over_http() {
		PrintBridge_Settings::update( array( 'store_token' => 'tok_wrong' ) );
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'refused the store token', $result['message'] );
	}

	public function test_session_retry_order_and_file_over_http() {
		$client  = PrintBridge_Bridge_Client::from_settings();
		$session = $client->key2print_session( array( 'mode' => 'user', 'product_id' => 29 ) );
		$this->assertSame( 'sess-29', $session['token'] );
		$this->assertSame( array( 'replayed' => 1 ), $client->retry_order( 42 ) );
		$this->assertSame( 'printbridge_not_found', $client->order( 404 )->get_error_code() );
		$this->assertSame( 42, $client->order( 42 )['order_id'] );
		$file = $client->file( 'f_77' );
		$this->assertSame( "%PDF-1.4\n%fake\n", $file['body'] );
		$this->assertSame( 'application/pdf', $file['content_type'] );
		$log = $this->logged();
		$this->assertSame( '{"mode":"user","product_id":29}', $log[0]['body'] );
		$this->assertSame( 'application/json', $log[0]['content_type'] );
		$this->assertSame( array( 'POST', '/v1/stores/shop/orders/42/retry' ), array( $log[1]['method'], $log[1]['path'] ) );
		foreach ( $log as $entry ) {
			$this->assertSame( 'Bearer tok_live', $entry['auth'] );
		}
	}

	public function test_unreachable_bridge_is_reported() {
		PrintBridge_Settings::update( array( 'bridge_url' => 'http://127.0.0.1:1' ) );
		$result = PrintBridge_Settings_Page::test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringStartsWith( 'Could not reach the bridge:', $result['message'] );
	}
}
