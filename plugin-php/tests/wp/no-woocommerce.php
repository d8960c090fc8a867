<?php
/**
 * Loads WordPress and PrintBridge without WooCommerce and prints the admin notices.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

putenv( 'PRINTBRIDGE_NO_WOOCOMMERCE=1' );
require __DIR__ . '/load.php';
wp_set_current_user( get_user_by( 'login', 'admin' )->ID );
do_action( 'admin_notices' );
echo "\nCART-HOOKED:" . ( has_filter( 'woocommerce_add_cart_item_data' ) ? 'yes' : 'no' ) . "\n";
