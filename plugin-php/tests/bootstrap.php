<?php
/**
 * PHPUnit bootstrap: a fresh WordPress install in MariaDB, then WordPress loaded with the
 * WooCommerce double and PrintBridge.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$pb_out = array();
exec( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( __DIR__ . '/wp/install.php' ) . ' 2>&1', $pb_out, $pb_code );
if ( 0 !== $pb_code ) {
	fwrite( STDERR, "Could not install the WordPress test site:\n" . implode( "\n", $pb_out ) . "\n" );
	exit( 1 );
}
fwrite( STDERR, end( $pb_out ) . "\n" );

require __DIR__ . '/wp/load.php';

// The admin parts boot only in wp-admin; the tests use them directly.
PrintBridge_Product_Admin::init();
PrintBridge_Settings_Page::init();
PrintBridge_Order_Admin::init();

require __DIR__ . '/TestCase.php';
