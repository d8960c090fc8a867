<?php
/**
 * WordPress configuration of the test site: Debian's WordPress core, a MariaDB test database,
 * the plugin directory = plugin-php/. Environment: PRINTBRIDGE_WP_DIR, PRINTBRIDGE_DB_HOST,
 * PRINTBRIDGE_DB_NAME, PRINTBRIDGE_DB_USER, PRINTBRIDGE_DB_PASSWORD, PRINTBRIDGE_WP_URL.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$pb_env = static function ( $name, $default ) {
	$v = getenv( $name );
	return false === $v || '' === $v ? $default : $v;
};
define( 'ABSPATH', rtrim( $pb_env( 'PRINTBRIDGE_WP_DIR', '/usr/share/wordpress' ), '/' ) . '/' );
define( 'DB_NAME', $pb_env( 'PRINTBRIDGE_DB_NAME', 'printbridge_wp_test' ) );
define( 'DB_USER', $pb_env( 'PRINTBRIDGE_DB_USER', 'root' ) );
define( 'DB_PASSWORD', (string) getenv( 'PRINTBRIDGE_DB_PASSWORD' ) );
define( 'DB_HOST', $pb_env( 'PRINTBRIDGE_DB_HOST', '127.0.0.1:3306' ) );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
define( 'WP_HOME', $pb_env( 'PRINTBRIDGE_WP_URL', 'http://example.org' ) );
define( 'WP_SITEURL', WP_HOME );
define( 'WP_PLUGIN_DIR', dirname( __DIR__, 2 ) );
define( 'WP_PLUGIN_URL', WP_HOME . '/plugins' );
define( 'WPMU_PLUGIN_DIR', __DIR__ . '/no-mu-plugins' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_DISPLAY', true );
define( 'DISABLE_WP_CRON', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1,localhost' );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
foreach ( array( 'AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT' ) as $pb_k ) {
	define( $pb_k, 'printbridge-test-' . $pb_k );
}
$table_prefix = 'pbtests_';
$_SERVER['HTTP_HOST']   = (string) parse_url( WP_HOME, PHP_URL_HOST );
$_SERVER['SERVER_NAME'] = $_SERVER['HTTP_HOST'];
if ( ! isset( $_SERVER['REQUEST_URI'] ) ) {
	$_SERVER['REQUEST_URI'] = '/';
}
