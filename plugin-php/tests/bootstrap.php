<?php
/**
 * PHPUnit bootstrap: loads a real shop (WordPress + WooCommerce + PrintBridge) installed by
 * tests/shop/install-shop.sh, whose directory PRINTBRIDGE_TEST_SHOP_DIR names (run-tests.sh
 * installs one). Each test runs inside a database transaction that is rolled back afterwards.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$pb_shop = rtrim( (string) getenv( 'PRINTBRIDGE_TEST_SHOP_DIR' ), '/' );
if ( '' === $pb_shop || ! is_file( $pb_shop . '/wp-config.php' ) ) {
	fwrite( STDERR, "PRINTBRIDGE_TEST_SHOP_DIR must name a shop installed by tests/shop/install-shop.sh (bash plugin-php/run-tests.sh installs one).\n" );
	exit( 1 );
}
define( 'PRINTBRIDGE_TEST_SHOP_DIR', $pb_shop );

// Hooks in place before WordPress loads (WordPress turns this array into its hooks).
// WooCommerce's session cookies cannot be sent once PHPUnit has printed; the session lives in memory.
$GLOBALS['wp_filter']['woocommerce_set_cookie_enabled'][10][] = array(
	'function'      => '__return_false',
	'accepted_args' => 1,
);

require $pb_shop . '/wp-load.php';

if ( ! class_exists( 'PrintBridge_Plugin' ) || ! function_exists( 'WC' ) ) {
	fwrite( STDERR, "The shop at $pb_shop does not load WooCommerce and PrintBridge.\n" );
	exit( 1 );
}
if ( realpath( PRINTBRIDGE_DIR ) !== realpath( dirname( __DIR__ ) . '/printbridge' ) ) {
	fwrite( STDERR, "The shop at $pb_shop runs another copy of PrintBridge (" . PRINTBRIDGE_DIR . "): install it with --plugin link.\n" );
	exit( 1 );
}
fwrite( STDERR, sprintf( "shop: WordPress %s, WooCommerce %s, HPOS %s\n", $GLOBALS['wp_version'], WC()->version, \Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled() ? 'on' : 'off' ) );

// The admin parts boot only in wp-admin; the tests use them directly.
require_once ABSPATH . 'wp-admin/includes/admin.php';
require_once WC_ABSPATH . 'includes/admin/class-wc-admin-settings.php';
require_once WC_ABSPATH . 'includes/admin/wc-meta-box-functions.php';
PrintBridge_Product_Admin::init();
PrintBridge_Merchant_Editor::init();
PrintBridge_Key2print_Lists::init();
PrintBridge_Settings_Page::init();
PrintBridge_Order_Admin::init();
PrintBridge_Order_Actions::init();

require __DIR__ . '/TestCase.php';
