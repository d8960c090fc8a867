<?php
/**
 * Loads the test shop with WooCommerce left out of the active plugins (as if the owner had
 * deactivated it) and prints the admin notices. Usage: php no-woocommerce.php SHOP_DIR
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$GLOBALS['wp_filter']['option_active_plugins'][10][] = array(
	'function'      => static function ( $plugins ) {
		return array_values( array_diff( (array) $plugins, array( 'woocommerce/woocommerce.php' ) ) );
	},
	'accepted_args' => 1,
);
require rtrim( $argv[1], '/' ) . '/wp-load.php';
wp_set_current_user( get_user_by( 'login', 'admin' )->ID );
do_action( 'admin_notices' );
echo "\nWOOCOMMERCE:" . ( class_exists( 'WooCommerce' ) ? 'loaded' : 'absent' ) . "\n";
echo 'CART-HOOKED:' . ( has_filter( 'woocommerce_add_cart_item_data' ) ? 'yes' : 'no' ) . "\n";
