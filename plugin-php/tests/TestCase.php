<?php
/**
 * Base test case: records outbound HTTP calls through `pre_http_request` and answers them.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

abstract class PrintBridge_TestCase extends \PHPUnit\Framework\TestCase {

	/** @var array<int,array{url:string,args:array}> Outbound requests. */
	protected $requests = array();
	/** @var callable|null Answers a request: fn(string $url, array $args): array|WP_Error. */
	protected $responder;

	protected function setUp(): void {
		parent::setUp();
		$this->requests  = array();
		$this->responder = null;
		add_filter( 'pre_http_request', array( $this, 'intercept_http' ), 10, 3 );
		wc_clear_notices();
		WC()->cart->empty_cart();
		$_POST = array();
		wp_set_current_user( 0 );
		delete_option( PrintBridge_Settings::OPTION );
		delete_option( PrintBridge_Webhooks::OPTION_IDS );
		delete_option( PrintBridge_Webhooks::OPTION_DISABLED );
		delete_option( WC_Webhook::OPTION );
		WC_Admin_Settings::$errors   = array();
		WC_Admin_Settings::$messages = array();
	}

	protected function tearDown(): void {
		remove_filter( 'pre_http_request', array( $this, 'intercept_http' ), 10 );
		$_POST = array();
		parent::tearDown();
	}

	/** @internal */
	public function intercept_http( $pre, $args, $url ) {
		$this->requests[] = array( 'url' => $url, 'args' => $args );
		if ( null === $this->responder ) {
			return new WP_Error( 'http_request_failed', 'no responder in this test' );
		}
		return call_user_func( $this->responder, $url, $args );
	}

	/** A canned HTTP response. */
	protected static function response( $code, $body, $content_type = 'application/json' ) {
		return array(
			'headers'  => array( 'content-type' => $content_type ),
			'body'     => is_string( $body ) ? $body : wp_json_encode( $body ),
			'response' => array( 'code' => $code, 'message' => '' ),
			'cookies'  => array(),
			'filename' => null,
		);
	}

	/** Stores a complete connection. */
	protected function connect( $url = 'https://bridge.test', $store = 'shop' ) {
		PrintBridge_Settings::update(
			array(
				'bridge_url'     => $url,
				'store_id'       => $store,
				'store_token'    => 'tok_secret_123',
				'webhook_secret' => 'whsec_456',
			)
		);
	}

	/** An administrator user. */
	protected function admin() {
		$user = get_user_by( 'login', 'admin' );
		wp_set_current_user( $user->ID );
		return $user;
	}

	/** A product post with PrintBridge meta. */
	protected function product( array $meta = array(), $type = 'product', $parent = 0 ) {
		$id = wp_insert_post( array( 'post_type' => $type, 'post_title' => 'Card', 'post_status' => 'publish', 'post_parent' => $parent ) );
		foreach ( $meta as $k => $v ) {
			update_post_meta( $id, $k, $v );
		}
		return $id;
	}
}

/** Thrown instead of dying in AJAX handlers under test. */
class PrintBridge_Die extends Exception {}

/**
 * Runs an AJAX handler and returns [decoded JSON or null, raw output, die message].
 */
function printbridge_run_ajax( callable $handler ) {
	$die = static function () {
		return static function ( $message ) {
			throw new PrintBridge_Die( is_scalar( $message ) ? (string) $message : '' );
		};
	};
	add_filter( 'wp_doing_ajax', '__return_true' );
	add_filter( 'wp_die_ajax_handler', $die );
	add_filter( 'wp_die_handler', $die );
	ob_start();
	$message = null;
	try {
		$handler();
	} catch ( PrintBridge_Die $e ) {
		$message = $e->getMessage();
	} finally {
		$out = ob_get_clean();
		remove_filter( 'wp_doing_ajax', '__return_true' );
		remove_filter( 'wp_die_ajax_handler', $die );
		remove_filter( 'wp_die_handler', $die );
	}
	return array( json_decode( $out, true ), $out, $message );
}
