<?php
/**
 * Server-side HTTP client of the bridge's store API.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Calls `/v1/stores/{store}/...` on the bridge with the store bearer token. The token never
 * leaves the server: responses are reduced to what the caller needs before they reach a browser.
 */
class PrintBridge_Bridge_Client {

	/** @var string Bridge base URL without a trailing slash. */
	private $base_url;
	/** @var string Store id. */
	private $store;
	/** @var string Store bearer token. */
	private $token;
	/** @var int Timeout in seconds. */
	private $timeout;

	/**
	 * Client with explicit connection values.
	 *
	 * @param string $base_url Bridge base URL.
	 * @param string $store    Store id.
	 * @param string $token    Store bearer token.
	 * @param int    $timeout  Request timeout in seconds.
	 */
	public function __construct( $base_url, $store, $token, $timeout = 15 ) {
		$this->base_url = untrailingslashit( (string) $base_url );
		$this->store    = (string) $store;
		$this->token    = (string) $token;
		$this->timeout  = (int) $timeout;
	}

	/**
	 * Client from the stored settings.
	 *
	 * @param int $timeout Request timeout in seconds.
	 * @return self
	 */
	public static function from_settings( $timeout = 15 ) {
		$s = PrintBridge_Settings::all();
		return new self( $s['bridge_url'], $s['store_id'], $s['store_token'], $timeout );
	}

	/**
	 * `GET /v1/stores/{store}/status`.
	 *
	 * @return array|WP_Error
	 */
	public function status() {
		return $this->json( 'GET', '/status' );
	}

	/**
	 * `POST /v1/stores/{store}/key2print/sessions`.
	 *
	 * @param array $body Session request (see the bridge API).
	 * @return array|WP_Error
	 */
	public function key2print_session( array $body ) {
		return $this->json( 'POST', '/key2print/sessions', $body );
	}

	/**
	 * `POST /v1/stores/{store}/key2print/cache/flush`.
	 *
	 * @param int $product_id WooCommerce product id.
	 * @return array|WP_Error
	 */
	public function key2print_flush_cache( $product_id ) {
		return $this->json( 'POST', '/key2print/cache/flush', array( 'product_id' => (int) $product_id ) );
	}

	/**
	 * `POST /v1/stores/{store}/key2print/price`: the price of a Key2print editor setup.
	 *
	 * @param int                  $product_id   WooCommerce product id (a variation's parent).
	 * @param int                  $variation_id Variation id, or 0 for a simple product.
	 * @param array<string,string> $setup        Option id => value id.
	 * @return array|WP_Error WP_Error data `error` holds the bridge's code (e.g. `unavailable`).
	 */
	public function key2print_price( $product_id, $variation_id, array $setup ) {
		$body = array(
			'product_id' => (int) $product_id,
			'setup'      => empty( $setup ) ? new stdClass() : $setup,
		);
		if ( $variation_id > 0 ) {
			$body['variation_id'] = (int) $variation_id;
		}
		return $this->json( 'POST', '/key2print/price', $body );
	}

	/**
	 * `GET /v1/stores/{store}/key2print/template-formats`.
	 *
	 * @param bool $refresh Read them from Key2print again instead of the bridge's cache.
	 * @return array|WP_Error
	 */
	public function key2print_template_formats( $refresh = false ) {
		return $this->json( 'GET', '/key2print/template-formats' . ( $refresh ? '?refresh=true' : '' ) );
	}

	/**
	 * `GET /v1/stores/{store}/key2print/templates`.
	 *
	 * @param bool $refresh Read them from Key2print again instead of the bridge's cache.
	 * @return array|WP_Error
	 */
	public function key2print_templates( $refresh = false ) {
		return $this->json( 'GET', '/key2print/templates' . ( $refresh ? '?refresh=true' : '' ) );
	}

	/**
	 * `GET /v1/stores/{store}/key2print/placeholders`.
	 *
	 * @param bool $refresh Read them from Key2print again instead of the bridge's cache.
	 * @return array|WP_Error
	 */
	public function key2print_placeholders( $refresh = false ) {
		return $this->json( 'GET', '/key2print/placeholders' . ( $refresh ? '?refresh=true' : '' ) );
	}

	/**
	 * `GET /v1/stores/{store}/orders/{order_id}`.
	 *
	 * @param int $order_id WooCommerce order id.
	 * @return array|WP_Error WP_Error code `printbridge_not_found` when the bridge has not seen the order.
	 */
	public function order( $order_id ) {
		return $this->json( 'GET', '/orders/' . (int) $order_id );
	}

	/**
	 * `POST /v1/stores/{store}/orders/{order_id}/retry`.
	 *
	 * @param int $order_id WooCommerce order id.
	 * @return array|WP_Error
	 */
	public function retry_order( $order_id ) {
		return $this->json( 'POST', '/orders/' . (int) $order_id . '/retry', new stdClass() );
	}

	/**
	 * `POST /v1/stores/{store}/privacy/export`: one page of a customer's data.
	 *
	 * @param array $body `email`, `customer_id`, `after`.
	 * @return array|WP_Error
	 */
	public function privacy_export( array $body ) {
		return $this->json( 'POST', '/privacy/export', $body );
	}

	/**
	 * `POST /v1/stores/{store}/privacy/erase`: one round of a customer's erasure.
	 *
	 * @param array $body `email`, `customer_id`.
	 * @return array|WP_Error
	 */
	public function privacy_erase( array $body ) {
		return $this->json( 'POST', '/privacy/erase', $body );
	}

	/**
	 * `POST /v1/stores/{store}/orders/{order_id}/{send-now|hold|approve}`: the owner's
	 * action on the order's print jobs that were not sent.
	 *
	 * @param int    $order_id WooCommerce order id.
	 * @param string $action   One of PrintBridge_Order_Admin::ACTIONS.
	 * @param string $provider For `approve`: one provider (`spiff`, `apliiq`, `key2print`), or '' for all.
	 * @return array|WP_Error `{"jobs": n}`; WP_Error with status 409 when nothing waits for the action.
	 */
	public function order_action( $order_id, $action, $provider = '' ) {
		$path = '/orders/' . (int) $order_id . '/' . rawurlencode( (string) $action );
		if ( 'approve' === $action && '' !== $provider ) {
			$path .= '?provider=' . rawurlencode( (string) $provider );
		}
		return $this->json( 'POST', $path, new stdClass() );
	}

	/**
	 * `GET /v1/stores/{store}/files/{file_id}`: the raw response (for streaming a PDF).
	 *
	 * @param string $file_id Bridge file id.
	 * @return array{body:string,content_type:string}|WP_Error
	 */
	public function file( $file_id ) {
		$response = $this->request( 'GET', '/files/' . rawurlencode( (string) $file_id ), null, 60 );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$code = (int) wp_remote_retrieve_response_code( $response );
		if ( 200 !== $code ) {
			return $this->error_from( $response, $code );
		}
		$type = (string) wp_remote_retrieve_header( $response, 'content-type' );
		return array(
			'body'         => (string) wp_remote_retrieve_body( $response ),
			'content_type' => '' !== $type ? $type : 'application/pdf',
		);
	}

	/**
	 * Sends a request and decodes a JSON object answer.
	 *
	 * @param string     $method HTTP method.
	 * @param string     $path   Path below `/v1/stores/{store}`.
	 * @param mixed|null $body   JSON body, or null for none.
	 * @return array|WP_Error
	 */
	private function json( $method, $path, $body = null ) {
		$response = $this->request( $method, $path, $body, $this->timeout );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$code = (int) wp_remote_retrieve_response_code( $response );
		if ( $code < 200 || $code >= 300 ) {
			return $this->error_from( $response, $code );
		}
		$data = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( ! is_array( $data ) ) {
			return new WP_Error( 'printbridge_bad_response', __( 'The bridge answered with something that is not JSON. Is the bridge URL right?', 'printbridge' ), array( 'status' => $code ) );
		}
		return $data;
	}

	/**
	 * Sends one request with the bearer token.
	 *
	 * @param string     $method  HTTP method.
	 * @param string     $path    Path below `/v1/stores/{store}`.
	 * @param mixed|null $body    JSON body or null.
	 * @param int        $timeout Seconds.
	 * @return array|WP_Error
	 */
	private function request( $method, $path, $body, $timeout ) {
		if ( '' === $this->base_url || '' === $this->store || '' === $this->token ) {
			return new WP_Error( 'printbridge_not_configured', __( 'PrintBridge is not connected yet: enter the bridge URL, store id and store token (or a connection key).', 'printbridge' ) );
		}
		$args = array(
			'method'      => $method,
			'timeout'     => $timeout,
			'redirection' => 0,
			'headers'     => array(
				'Authorization' => 'Bearer ' . $this->token,
				'Accept'        => 'application/json',
				'User-Agent'    => 'PrintBridge-WordPress/' . PRINTBRIDGE_VERSION,
			),
		);
		if ( null !== $body ) {
			$args['headers']['Content-Type'] = 'application/json';
			$args['body']                    = wp_json_encode( $body );
		}
		$url      = $this->base_url . '/v1/stores/' . rawurlencode( $this->store ) . $path;
		$response = wp_remote_request( $url, $args );
		if ( is_wp_error( $response ) ) {
			return new WP_Error(
				'printbridge_unreachable',
				/* translators: %s: transport error message */
				sprintf( __( 'Could not reach the bridge: %s', 'printbridge' ), $response->get_error_message() )
			);
		}
		return $response;
	}

	/**
	 * Seconds to wait from a 429 answer's Retry-After (delta-seconds or an HTTP date), 1 to
	 * 3600; 60 when it is absent or unreadable.
	 *
	 * @param array $response HTTP response.
	 * @return int
	 */
	private static function retry_after( $response ) {
		$value = trim( (string) wp_remote_retrieve_header( $response, 'retry-after' ) );
		if ( 1 === preg_match( '/^\d{1,10}$/D', $value ) ) {
			$wait = (int) $value;
		} else {
			$at   = '' !== $value ? strtotime( $value ) : false;
			$wait = false !== $at ? $at - time() : 60;
		}
		return max( 1, min( 3600, $wait ) );
	}

	/**
	 * Turns a non-2xx answer into a plain WP_Error.
	 *
	 * @param array $response HTTP response.
	 * @param int   $code     Status code.
	 * @return WP_Error
	 */
	private function error_from( $response, $code ) {
		$data    = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		$err     = is_array( $data ) && isset( $data['error'] ) && is_string( $data['error'] ) ? $data['error'] : '';
		$message = is_array( $data ) && isset( $data['message'] ) && is_string( $data['message'] ) ? $data['message'] : '';
		if ( 404 === $code && 'not_found' === $err ) {
			return new WP_Error( 'printbridge_not_found', __( 'The bridge has not seen this yet.', 'printbridge' ), array( 'status' => 404 ) );
		}
		if ( 401 === $code || 403 === $code ) {
			return new WP_Error( 'printbridge_unauthorized', __( 'The bridge refused the store token. Check the store id and token (or paste a fresh connection key).', 'printbridge' ), array( 'status' => $code ) );
		}
		if ( 429 === $code ) {
			$wait = self::retry_after( $response );
			return new WP_Error(
				'printbridge_rate_limited',
				/* translators: %d: seconds */
				sprintf( __( 'The bridge is taking no more of these requests for now; retry in %d seconds.', 'printbridge' ), $wait ),
				array(
					'status'      => 429,
					'error'       => $err,
					'retry_after' => $wait,
				)
			);
		}
		if ( 409 === $code && 'key2print_not_configured' === $err ) {
			return new WP_Error( 'printbridge_key2print_not_configured', __( 'Key2print is not set up on the bridge for this store: add a [stores.key2print] section to the bridge configuration.', 'printbridge' ), array( 'status' => 409 ) );
		}
		if ( 404 === $code ) {
			return new WP_Error( 'printbridge_http_404', __( 'The bridge does not know this store or address (404). Check the bridge URL and store id.', 'printbridge' ), array( 'status' => 404 ) );
		}
		$text = '' !== $message ? $message : ( '' !== $err ? $err : __( 'no details', 'printbridge' ) );
		return new WP_Error(
			'printbridge_http_' . $code,
			/* translators: 1: HTTP status code, 2: bridge message */
			sprintf( __( 'The bridge answered %1$d: %2$s', 'printbridge' ), $code, $text ),
			array(
				'status' => $code,
				'error'  => $err,
			)
		);
	}
}
