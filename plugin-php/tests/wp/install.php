<?php
/**
 * Installs a fresh WordPress into the test database (run in its own process, as WordPress'
 * own test suite does, because WP_INSTALLING changes how core behaves).
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

require __DIR__ . '/config.php';

$pb_host = explode( ':', DB_HOST );
$pb_db   = new mysqli( $pb_host[0], DB_USER, DB_PASSWORD, '', isset( $pb_host[1] ) ? (int) $pb_host[1] : 3306 );
$pb_db->query( 'DROP DATABASE IF EXISTS `' . DB_NAME . '`' );
$pb_db->query( 'CREATE DATABASE `' . DB_NAME . '` CHARACTER SET utf8mb4' );
$pb_db->close();

define( 'WP_INSTALLING', true );
// No mail from the installer.
function wp_mail() {
	return true;
}
require ABSPATH . 'wp-settings.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$pb_result = wp_install( 'PrintBridge test shop', 'admin', 'admin@example.org', true, '', 'admin-password' );
if ( empty( $pb_result['user_id'] ) ) {
	fwrite( STDERR, "WordPress install failed\n" );
	exit( 1 );
}
echo "installed WordPress {$GLOBALS['wp_version']}\n";
