<?php
/**
 * The steps of install-shop.sh, each in its own PHP process (WordPress' installer, a plugin's
 * activation and a normal load behave differently and cannot share one). Usage:
 * php shop-setup.php config|wordpress|woocommerce|configure|verify, with the PRINTBRIDGE_SHOP_*
 * environment that install-shop.sh exports.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

$pb_step = isset( $argv[1] ) ? $argv[1] : '';
$pb_env  = static function ( $name, $default = '' ) {
	$v = getenv( $name );
	return false === $v || '' === $v ? $default : $v;
};
$pb_dir = rtrim( $pb_env( 'PRINTBRIDGE_SHOP_DIR' ), '/' );
if ( '' === $pb_dir || ! is_dir( $pb_dir ) ) {
	fwrite( STDERR, "PRINTBRIDGE_SHOP_DIR is not a directory\n" );
	exit( 1 );
}

/** Fails the step with a message. */
function pb_fail( $message ) {
	fwrite( STDERR, "shop-setup: $message\n" );
	exit( 1 );
}

switch ( $pb_step ) {
	case 'config':
		pb_write_config( $pb_dir, $pb_env );
		break;
	case 'wordpress':
		pb_install_wordpress( $pb_dir, $pb_env );
		break;
	case 'woocommerce':
		pb_activate_woocommerce( $pb_dir );
		break;
	case 'configure':
		pb_configure( $pb_dir, $pb_env );
		break;
	case 'verify':
		pb_verify( $pb_dir, $pb_env );
		break;
	default:
		pb_fail( "unknown step '$pb_step'" );
}

/** Writes wp-config.php. */
function pb_write_config( $dir, $env ) {
	$salts = '';
	foreach ( array( 'AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT' ) as $k ) {
		$salts .= sprintf( "define( '%s', %s );\n", $k, var_export( bin2hex( random_bytes( 24 ) ), true ) );
	}
	$url    = $env( 'PRINTBRIDGE_SHOP_URL' );
	$values = array(
		'DB_NAME'     => $env( 'PRINTBRIDGE_SHOP_DB' ),
		'DB_USER'     => $env( 'PRINTBRIDGE_DB_USER', 'root' ),
		'DB_PASSWORD' => $env( 'PRINTBRIDGE_DB_PASSWORD', '' ),
		'DB_HOST'     => $env( 'PRINTBRIDGE_DB_HOST', '127.0.0.1:3306' ),
		'WP_HOME'     => $url,
		'WP_SITEURL'  => $url,
		'LOG'         => $dir . '/wp-content/debug.log',
		'SYNC'        => 'sync' === $env( 'PRINTBRIDGE_SHOP_WEBHOOKS', 'sync' ),
		'HOST'        => (string) parse_url( $url, PHP_URL_HOST ) . ( parse_url( $url, PHP_URL_PORT ) ? ':' . parse_url( $url, PHP_URL_PORT ) : '' ),
	);
	$e      = static function ( $k ) use ( $values ) {
		return var_export( $values[ $k ], true );
	};
	$config = "<?php\n// Test shop configuration, written by install-shop.sh.\n"
		. "define( 'DB_NAME', {$e('DB_NAME')} );\n"
		. "define( 'DB_USER', {$e('DB_USER')} );\n"
		. "define( 'DB_PASSWORD', {$e('DB_PASSWORD')} );\n"
		. "define( 'DB_HOST', {$e('DB_HOST')} );\n"
		. "define( 'DB_CHARSET', 'utf8mb4' );\n"
		. "define( 'DB_COLLATE', '' );\n"
		. "define( 'WP_HOME', {$e('WP_HOME')} );\n"
		. "define( 'WP_SITEURL', {$e('WP_SITEURL')} );\n"
		. "define( 'WP_DEBUG', true );\n"
		. "define( 'WP_DEBUG_LOG', {$e('LOG')} );\n"
		. "define( 'WP_DEBUG_DISPLAY', false );\n"
		. "define( 'SCRIPT_DEBUG', false );\n"
		. "define( 'WP_ENVIRONMENT_TYPE', 'local' );\n"
		. "define( 'WP_HTTP_BLOCK_EXTERNAL', true );\n"
		. "define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1,localhost' );\n"
		. "define( 'DISABLE_WP_CRON', true );\n"
		. "define( 'AUTOMATIC_UPDATER_DISABLED', true );\n"
		. "define( 'WP_AUTO_UPDATE_CORE', false );\n"
		. "define( 'FS_METHOD', 'direct' );\n"
		. "define( 'WP_MEMORY_LIMIT', '256M' );\n"
		. "define( 'PRINTBRIDGE_TEST_WEBHOOKS_SYNC', {$e('SYNC')} );\n"
		. $salts
		. "\$table_prefix = 'wp_';\n"
		. "// PHP CLI scripts (tests, installer) load the site as if requested at its URL.\n"
		. "if ( 'cli' === PHP_SAPI ) {\n"
		. "\tif ( empty( \$_SERVER['HTTP_HOST'] ) ) {\n\t\t\$_SERVER['HTTP_HOST'] = {$e('HOST')};\n\t}\n"
		. "\tif ( empty( \$_SERVER['SERVER_NAME'] ) ) {\n\t\t\$_SERVER['SERVER_NAME'] = (string) parse_url( WP_HOME, PHP_URL_HOST );\n\t}\n"
		. "\tif ( ! isset( \$_SERVER['REQUEST_URI'] ) ) {\n\t\t\$_SERVER['REQUEST_URI'] = '/';\n\t}\n"
		. "}\n"
		. "if ( ! defined( 'ABSPATH' ) ) {\n\tdefine( 'ABSPATH', __DIR__ . '/' );\n}\n"
		. "require_once ABSPATH . 'wp-settings.php';\n";
	file_put_contents( $dir . '/wp-config.php', $config );
}

/** Recreates the database and runs wp_install(). */
function pb_install_wordpress( $dir, $env ) {
	$host = explode( ':', $env( 'PRINTBRIDGE_DB_HOST', '127.0.0.1:3306' ) );
	mysqli_report( MYSQLI_REPORT_OFF );
	$db = @new mysqli( $host[0], $env( 'PRINTBRIDGE_DB_USER', 'root' ), $env( 'PRINTBRIDGE_DB_PASSWORD', '' ), '', isset( $host[1] ) ? (int) $host[1] : 3306 );
	if ( $db->connect_errno ) {
		pb_fail( 'cannot reach MariaDB: ' . $db->connect_error );
	}
	$name = $env( 'PRINTBRIDGE_SHOP_DB' );
	if ( ! $db->query( "DROP DATABASE IF EXISTS `$name`" ) || ! $db->query( "CREATE DATABASE `$name` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ) ) {
		pb_fail( 'cannot recreate database: ' . $db->error );
	}
	$db->close();

	define( 'WP_INSTALLING', true );
	require $dir . '/wp-load.php';
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$result = wp_install( 'PrintBridge test shop', 'admin', 'admin@example.org', true, '', 'admin-password' );
	if ( empty( $result['user_id'] ) ) {
		pb_fail( 'wp_install() failed' );
	}
	update_option( 'permalink_structure', '/%postname%/' );
	update_option( 'timezone_string', 'UTC' );
	update_option( 'active_plugins', array() );
	echo "installed WordPress {$GLOBALS['wp_version']}\n";
}

/** Activates WooCommerce the way the Plugins screen does (its activation hook runs the installer). */
function pb_activate_woocommerce( $dir ) {
	require $dir . '/wp-load.php';
	require_once ABSPATH . 'wp-admin/includes/plugin.php';
	wp_set_current_user( 1 );
	$result = activate_plugin( 'woocommerce/woocommerce.php' );
	if ( is_wp_error( $result ) ) {
		pb_fail( 'activating WooCommerce: ' . $result->get_error_message() );
	}
}

/** Runs WooCommerce's installer with WooCommerce loaded normally, then sets up the store. */
function pb_configure( $dir, $env ) {
	require $dir . '/wp-load.php';
	require_once ABSPATH . 'wp-admin/includes/plugin.php';
	wp_set_current_user( 1 );
	if ( ! class_exists( 'WC_Install' ) ) {
		pb_fail( 'WooCommerce is not loaded' );
	}
	WC_Install::install();
	// What WooCommerce does on the first admin page view of a new shop (HPOS by default, coming soon...).
	WC_Install::newly_installed();

	$hpos = 'on' === $env( 'PRINTBRIDGE_SHOP_HPOS', 'on' );
	if ( $hpos ) {
		wc_get_container()->get( \Automattic\WooCommerce\Internal\DataStores\Orders\DataSynchronizer::class )->create_database_tables();
	}
	update_option( 'woocommerce_custom_orders_table_enabled', $hpos ? 'yes' : 'no' );
	update_option( 'woocommerce_custom_orders_table_data_sync_enabled', 'no' );

	update_option( 'woocommerce_default_country', $env( 'PRINTBRIDGE_SHOP_COUNTRY', 'BE' ) );
	update_option( 'woocommerce_currency', $env( 'PRINTBRIDGE_SHOP_CURRENCY', 'EUR' ) );
	update_option( 'woocommerce_store_address', 'Rue de la Loi 1' );
	update_option( 'woocommerce_store_city', 'Brussels' );
	update_option( 'woocommerce_store_postcode', '1000' );
	update_option( 'woocommerce_calc_taxes', 'no' );
	update_option( 'woocommerce_coming_soon', 'no' );
	update_option( 'woocommerce_store_pages_only', 'no' );
	update_option( 'woocommerce_allow_tracking', 'no' );
	update_option( 'woocommerce_show_marketplace_suggestions', 'no' );
	update_option( 'woocommerce_task_list_hidden', 'yes' );
	update_option( 'woocommerce_onboarding_profile', array( 'skipped' => true ) );
	update_option( 'woocommerce_enable_guest_checkout', 'yes' );
	update_option( 'woocommerce_cod_settings', array( 'enabled' => 'yes', 'title' => 'Cash on delivery', 'description' => '', 'instructions' => '', 'enable_for_methods' => array(), 'enable_for_virtual' => 'yes' ) );
	delete_transient( '_wc_activation_redirect' );

	$zone = new WC_Shipping_Zone( 0 );
	if ( ! $zone->get_shipping_methods() ) {
		$zone->add_shipping_method( 'free_shipping' );
	}

	if ( 'yes' === $env( 'PRINTBRIDGE_SHOP_ACTIVATE', 'yes' ) ) {
		$result = activate_plugin( 'printbridge/printbridge.php' );
		if ( is_wp_error( $result ) ) {
			pb_fail( 'activating PrintBridge: ' . $result->get_error_message() );
		}
	}
	flush_rewrite_rules();
}

/** Loads the finished shop normally and checks it; writes shop.env. */
function pb_verify( $dir, $env ) {
	require $dir . '/wp-load.php';
	if ( ! function_exists( 'WC' ) || ! did_action( 'woocommerce_init' ) ) {
		pb_fail( 'WooCommerce does not load' );
	}
	$hpos = \Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled();
	if ( $hpos !== ( 'on' === $env( 'PRINTBRIDGE_SHOP_HPOS', 'on' ) ) ) {
		pb_fail( 'HPOS is ' . ( $hpos ? 'on' : 'off' ) . ', not as asked' );
	}
	foreach ( array( 'shop', 'cart', 'checkout', 'myaccount' ) as $page ) {
		if ( wc_get_page_id( $page ) <= 0 ) {
			pb_fail( "WooCommerce's $page page is missing" );
		}
	}
	$active = 'yes' === $env( 'PRINTBRIDGE_SHOP_ACTIVATE', 'yes' );
	if ( $active !== class_exists( 'PrintBridge_Plugin' ) ) {
		pb_fail( 'PrintBridge is ' . ( $active ? 'not ' : '' ) . 'loaded' );
	}
	$facts = array(
		'PRINTBRIDGE_SHOP_DIR'       => $dir,
		'PRINTBRIDGE_SHOP_URL'       => home_url(),
		'PRINTBRIDGE_SHOP_DB'        => DB_NAME,
		'PRINTBRIDGE_SHOP_WP_VERSION' => $GLOBALS['wp_version'],
		'PRINTBRIDGE_SHOP_WC_VERSION' => WC()->version,
		'PRINTBRIDGE_SHOP_HPOS'      => $hpos ? 'on' : 'off',
		'PRINTBRIDGE_SHOP_DEBUG_LOG' => WP_DEBUG_LOG,
		'PRINTBRIDGE_SHOP_INSTALL_LOG' => $dir . '/wp-content/install-debug.log',
		'PRINTBRIDGE_SHOP_MAIL_LOG'  => $dir . '/wp-content/mail.log',
		'PRINTBRIDGE_SHOP_ADMIN'     => 'admin',
		'PRINTBRIDGE_SHOP_ADMIN_PASSWORD' => 'admin-password',
		'PRINTBRIDGE_SHOP_CART_URL'  => wc_get_cart_url(),
		'PRINTBRIDGE_SHOP_CHECKOUT_URL' => wc_get_checkout_url(),
	);
	$out = '';
	foreach ( $facts as $k => $v ) {
		$out .= $k . '=' . escapeshellarg( (string) $v ) . "\n";
	}
	file_put_contents( $dir . '/shop.env', $out );
	// The shop's debug.log starts empty: what installing WooCommerce logged is kept apart.
	if ( is_file( WP_DEBUG_LOG ) ) {
		rename( WP_DEBUG_LOG, $dir . '/wp-content/install-debug.log' );
	}
	printf( "shop ready: %s at %s (WordPress %s, WooCommerce %s, HPOS %s, PrintBridge %s)\n", $dir, home_url(), $GLOBALS['wp_version'], WC()->version, $hpos ? 'on' : 'off', $active ? 'active' : 'not installed' );
}
