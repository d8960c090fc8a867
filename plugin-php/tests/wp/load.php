<?php
/**
 * Loads WordPress with the WooCommerce double (unless PRINTBRIDGE_NO_WOOCOMMERCE is set) and
 * the PrintBridge plugin, the way WordPress loads plugins (before plugins_loaded).
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

require_once __DIR__ . '/config.php';

$GLOBALS['wp_filter']['muplugins_loaded'][10][] = array(
	'function'      => static function () {
		if ( ! getenv( 'PRINTBRIDGE_NO_WOOCOMMERCE' ) ) {
			require_once dirname( __DIR__ ) . '/double/woocommerce-double.php';
			add_action( 'init', 'wcdouble_setup', 0 );
		}
		require_once WP_PLUGIN_DIR . '/printbridge/printbridge.php';
	},
	'accepted_args' => 0,
);

require_once ABSPATH . 'wp-settings.php';

// WordPress 6.1 core raises PHP 8.2 deprecations in its bundled libraries; they are not ours.
error_reporting( E_ALL & ~E_DEPRECATED );
