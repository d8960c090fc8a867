<?php
/**
 * Router of a test shop served by `php -S` (see serve.sh): existing files (assets, wp-admin/*.php,
 * wp-login.php, ...) are served as they are, directories by their index.php, anything else by
 * WordPress' index.php (pretty permalinks, /wp-json/ REST routes), as Apache's rewrite rules do.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$pb_root = rtrim( $_SERVER['DOCUMENT_ROOT'], '/' );
$pb_path = urldecode( (string) parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) );
if ( false === strpos( $pb_path, '..' ) ) {
	if ( is_file( $pb_root . $pb_path ) ) {
		return false;
	}
	if ( is_dir( $pb_root . $pb_path ) && is_file( rtrim( $pb_root . $pb_path, '/' ) . '/index.php' ) ) {
		if ( '/' !== substr( $pb_path, -1 ) ) {
			header( 'Location: ' . $pb_path . '/', true, 301 );
			return true;
		}
		return false;
	}
}
$_SERVER['SCRIPT_NAME']     = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $pb_root . '/index.php';
$_SERVER['PHP_SELF']        = '/index.php';
chdir( $pb_root );
require $pb_root . '/index.php';
