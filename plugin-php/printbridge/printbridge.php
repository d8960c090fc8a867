<?php
/**
 * Plugin Name:          PrintBridge
 * Plugin URI:           https://github.com/printbridge/printbridge
 * Description:          Puts Spiff and Key2print editors on WooCommerce product pages, carries the design id into the order, and connects the shop to a PrintBridge bridge that places the print orders.
 * Version:              0.1.0
 * Requires at least:    6.1
 * Requires PHP:         7.4
 * Author:               PrintBridge contributors
 * License:              GPL-2.0-or-later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:          printbridge
 * Domain Path:          /languages
 * WC requires at least: 8.0
 * WC tested up to:      11.0
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

define( 'PRINTBRIDGE_VERSION', '0.1.0' );
define( 'PRINTBRIDGE_FILE', __FILE__ );
define( 'PRINTBRIDGE_DIR', plugin_dir_path( __FILE__ ) );

require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-design-id.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-settings.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-bridge-client.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-product-settings.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-webhooks.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-cart.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-cart-price.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-cart-reopen.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-product-page.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-shop-loop.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-key2print-flush.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-key2print-lists.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-product-admin.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-merchant-editor.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-settings-page.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-order-admin.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-privacy.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-order-actions.php';
require_once PRINTBRIDGE_DIR . 'includes/class-printbridge-plugin.php';

// Declare compatibility with WooCommerce's order tables (HPOS) and the cart/checkout blocks.
add_action(
	'before_woocommerce_init',
	static function () {
		if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', PRINTBRIDGE_FILE, true );
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', PRINTBRIDGE_FILE, true );
		}
	}
);

add_action( 'plugins_loaded', array( 'PrintBridge_Plugin', 'boot' ), 20 );
register_deactivation_hook( PRINTBRIDGE_FILE, array( 'PrintBridge_Plugin', 'deactivate' ) );
