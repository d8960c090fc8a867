<?php
/**
 * Base test case: a database transaction per test (rolled back), outbound HTTP recorded and
 * answered through `pre_http_request`, and helpers that go through real WooCommerce.
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
		global $wpdb;
		$wpdb->query( 'SET autocommit = 0' );
		$wpdb->query( 'START TRANSACTION' );
		$this->requests  = array();
		$this->responder = null;
		add_filter( 'pre_http_request', array( $this, 'intercept_http' ), 10, 3 );
		wp_set_current_user( 0 );
		$_POST = $_GET = $_REQUEST = array();
		WC()->cart->empty_cart();
		wc_clear_notices();
		self::reset_admin_settings_messages();
	}

	protected function tearDown(): void {
		global $wpdb;
		remove_filter( 'pre_http_request', array( $this, 'intercept_http' ), 10 );
		$_POST = $_GET = $_REQUEST = array();
		WC()->cart->empty_cart();
		wc_clear_notices();
		$wpdb->query( 'ROLLBACK' );
		wp_cache_flush();
		$GLOBALS['current_screen'] = null;
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

	/** The shop's administrator, logged in. */
	protected function admin() {
		$user = get_user_by( 'login', 'admin' );
		wp_set_current_user( $user->ID );
		return $user;
	}

	/** A published simple product (10.00) with PrintBridge meta. */
	protected function product( array $meta = array(), $name = 'Card' ) {
		$product = new WC_Product_Simple();
		$product->set_name( $name );
		$product->set_status( 'publish' );
		$product->set_regular_price( '10' );
		foreach ( $meta as $k => $v ) {
			if ( '_sku' === $k ) {
				$product->set_sku( $v );
			} else {
				$product->update_meta_data( $k, $v );
			}
		}
		return $product->save();
	}

	/** A published variable product with a "Size" attribute (A5, A4) and one variation per size. */
	protected function variable_product( array $meta = array() ) {
		$attribute = new WC_Product_Attribute();
		$attribute->set_name( 'Size' );
		$attribute->set_options( array( 'A5', 'A4' ) );
		$attribute->set_visible( true );
		$attribute->set_variation( true );
		$product = new WC_Product_Variable();
		$product->set_name( 'Poster' );
		$product->set_status( 'publish' );
		$product->set_attributes( array( $attribute ) );
		foreach ( $meta as $k => $v ) {
			$product->update_meta_data( $k, $v );
		}
		$parent     = $product->save();
		$variations = array();
		foreach ( array( 'A5', 'A4' ) as $size ) {
			$variation = new WC_Product_Variation();
			$variation->set_parent_id( $parent );
			$variation->set_attributes( array( 'size' => $size ) );
			$variation->set_regular_price( 'A4' === $size ? '20' : '15' );
			$variation->set_status( 'publish' );
			$variations[ $size ] = $variation->save();
		}
		WC_Product_Variable::sync( $parent );
		return array( $parent, $variations );
	}

	/**
	 * The product form's add to cart (WC_Form_Handler with $_POST as given): the key of the
	 * line it added or changed, or false.
	 */
	protected function form_add_to_cart( $product_id, array $post ) {
		$before = WC()->cart->get_cart_contents();
		$_POST  = $_REQUEST = array( 'add-to-cart' => (string) $product_id ) + $post;
		WC_Form_Handler::add_to_cart_action();
		$_POST = $_REQUEST = array();
		foreach ( WC()->cart->get_cart_contents() as $key => $item ) {
			if ( ! isset( $before[ $key ] ) || $before[ $key ]['quantity'] !== $item['quantity'] ) {
				return $key;
			}
		}
		return false;
	}

	/** The messages of the notices of a type, in order. */
	protected static function notices( $type = 'error' ) {
		return array_map(
			static function ( $n ) {
				return html_entity_decode( wp_strip_all_tags( $n['notice'] ), ENT_QUOTES );
			},
			wc_get_notices( $type )
		);
	}

	/** The shop's webhooks: id => topic, delivery URL, secret, API version, status, user. */
	protected static function webhooks() {
		$out = array();
		$ids = WC_Data_Store::load( 'webhook' )->search_webhooks( array( 'limit' => -1, 'orderby' => 'id', 'order' => 'ASC' ) );
		sort( $ids );
		foreach ( $ids as $id ) {
			$w                 = wc_get_webhook( $id );
			$out[ (int) $id ] = array(
				'topic'        => $w->get_topic(),
				'delivery_url' => $w->get_delivery_url(),
				'secret'       => $w->get_secret(),
				'api_version'  => $w->get_api_version(),
				'status'       => $w->get_status(),
				'user_id'      => $w->get_user_id(),
			);
		}
		return $out;
	}

	/** A webhook of another topic, created as an owner would. */
	protected static function other_webhook() {
		$other = new WC_Webhook();
		$other->set_name( 'Someone else\'s' );
		$other->set_topic( 'product.created' );
		$other->set_delivery_url( 'https://elsewhere.example/hook' );
		$other->set_status( 'active' );
		$other->set_user_id( 1 );
		$other->save();
		return $other;
	}

	/** What WooCommerce's settings screen would print as messages and errors. */
	protected static function admin_settings_messages() {
		ob_start();
		WC_Admin_Settings::show_messages();
		return wp_strip_all_tags( ob_get_clean() );
	}

	/** Empties WooCommerce's settings screen messages and errors. */
	protected static function reset_admin_settings_messages() {
		foreach ( array( 'errors', 'messages' ) as $prop ) {
			$p = new ReflectionProperty( 'WC_Admin_Settings', $prop );
			$p->setAccessible( true );
			$p->setValue( null, array() );
		}
	}

	/** Calls a Store API route through WordPress' REST server, with a valid Store API nonce. */
	protected static function store_api( $method, $route, array $body = array() ) {
		$request = new WP_REST_Request( $method, '/wc/store/v1/' . ltrim( $route, '/' ) );
		$request->set_header( 'Nonce', wp_create_nonce( 'wc_store_api' ) );
		if ( $body ) {
			$request->set_header( 'Content-Type', 'application/json' );
			$request->set_body( wp_json_encode( $body ) );
		}
		// As in an HTTP request to the Store API (WooCommerce tells Store API requests by their URI).
		$uri                    = $_SERVER['REQUEST_URI'];
		$_SERVER['REQUEST_URI'] = '/' . rest_get_url_prefix() . $request->get_route();
		try {
			$response = rest_do_request( $request );
		} finally {
			$_SERVER['REQUEST_URI'] = $uri;
		}
		return array( $response->get_status(), json_decode( wp_json_encode( rest_get_server()->response_to_data( $response, false ) ), true ) );
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
