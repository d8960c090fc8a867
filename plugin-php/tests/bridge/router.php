<?php
/**
 * A tiny stand-in for the bridge's store API (run with `php -S`). Accepts the bearer token
 * `tok_live`; appends every request to the log file named by PRINTBRIDGE_FAKE_LOG.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$method = $_SERVER['REQUEST_METHOD'];
$path   = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH );
$auth   = isset( $_SERVER['HTTP_AUTHORIZATION'] ) ? $_SERVER['HTTP_AUTHORIZATION'] : '';
$body   = file_get_contents( 'php://input' );
$log    = getenv( 'PRINTBRIDGE_FAKE_LOG' );
if ( $log ) {
	file_put_contents( $log, json_encode( array( 'method' => $method, 'path' => $path, 'auth' => $auth, 'content_type' => isset( $_SERVER['CONTENT_TYPE'] ) ? $_SERVER['CONTENT_TYPE'] : '', 'body' => $body ) ) . "\n", FILE_APPEND );
}

function answer( $code, $data, $type = 'application/json' ) {
	http_response_code( $code );
	header( 'Content-Type: ' . $type );
	echo is_string( $data ) ? $data : json_encode( $data );
	exit;
}

if ( '/healthz' === $path ) {
	answer( 200, 'ok', 'text/plain' );
}
if ( ! preg_match( '#^/v1/stores/([A-Za-z0-9_-]+)(/.*)$#', $path, $m ) ) {
	answer( 404, array( 'error' => 'not_found', 'message' => 'no route' ) );
}
if ( 'Bearer tok_live' !== $auth ) {
	answer( 401, array( 'error' => 'unauthorized', 'message' => 'missing or wrong store token' ) );
}
list( , $store, $rest ) = $m;
if ( 'GET' === $method && '/status' === $rest ) {
	answer( 200, array( 'store' => $store, 'version' => '0.1.0', 'providers' => array( 'spiff', 'key2print' ), 'webhook_url' => 'http://' . $_SERVER['HTTP_HOST'] . '/v1/webhooks/woocommerce/' . $store, 'rest_keys' => true, 'last_delivery_at' => null ) );
}
if ( 'POST' === $method && '/key2print/sessions' === $rest ) {
	$req = json_decode( $body, true );
	if ( ! is_array( $req ) || 'user' !== $req['mode'] ) {
		answer( 422, array( 'error' => 'invalid', 'message' => 'mode must be user', 'field' => 'mode' ) );
	}
	answer( 200, array( 'token' => 'sess-' . $req['product_id'], 'expires_at' => '2026-11-23T11:00:00Z', 'user_id' => 'u1', 'editor_url' => null ) );
}
if ( 'GET' === $method && preg_match( '#^/orders/(\d+)$#', $rest, $o ) ) {
	if ( '404' === $o[1] ) {
		answer( 404, array( 'error' => 'not_found', 'message' => 'order not seen' ) );
	}
	answer( 200, array( 'store' => $store, 'order_id' => (int) $o[1], 'status' => 'processing', 'paid' => true, 'provider_orders' => array(), 'attention' => array() ) );
}
if ( 'POST' === $method && preg_match( '#^/orders/(\d+)/retry$#', $rest ) ) {
	answer( 200, array( 'replayed' => 1 ) );
}
if ( 'GET' === $method && '/files/f_77' === $rest ) {
	answer( 200, "%PDF-1.4\n%fake\n", 'application/pdf' );
}
answer( 404, array( 'error' => 'not_found', 'message' => 'no route' ) );
