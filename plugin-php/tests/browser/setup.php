<?php
/**
 * Prepares the browser-test shop: a fresh WordPress, the connection to the stand-in bridge,
 * the stand-in editor URLs, a Spiff product and a Key2print product. Prints the product ids
 * as JSON. Usage: php setup.php BRIDGE_URL
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

exec( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( dirname( __DIR__ ) . '/wp/install.php' ) . ' 2>&1', $out, $code );
if ( 0 !== $code ) {
	fwrite( STDERR, implode( "\n", $out ) . "\n" );
	exit( 1 );
}
require dirname( __DIR__ ) . '/wp/load.php';

$bridge = $argv[1];
PrintBridge_Settings::update(
	array(
		'bridge_url'        => $bridge,
		'store_id'          => 'shop',
		'store_token'       => 'tok_live',
		'webhook_secret'    => 'whsec_browser',
		'spiff_api_js_url'  => WP_HOME . '/stand-ins/spiff-api.js',
		'k2p_wrapper_url'   => WP_HOME . '/stand-ins/k2p-wrapper.js',
		'k2p_editor_width'  => '100%',
		'k2p_editor_height' => '420px',
	)
);
$spiff = wp_insert_post( array( 'post_type' => 'product', 'post_title' => 'Personalised mug', 'post_status' => 'publish' ) );
update_post_meta( $spiff, '_printbridge_provider', 'spiff' );
update_post_meta( $spiff, '_printbridge_spiff_integration_product_id', '649dfe36-bd0a-447e-a9f9-67bff7bc9a96' );
$k2p = wp_insert_post( array( 'post_type' => 'product', 'post_title' => 'Business cards', 'post_status' => 'publish' ) );
update_post_meta( $k2p, '_printbridge_provider', 'key2print' );
update_post_meta( $k2p, '_printbridge_key2print_template_id', 'tpl-7' );
update_post_meta( $k2p, '_printbridge_key2print_gateway', 'yes' );
echo json_encode( array( 'spiff' => $spiff, 'key2print' => $k2p ) ) . "\n";
