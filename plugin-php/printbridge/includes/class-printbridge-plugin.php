<?php
/**
 * Plugin bootstrap.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Loads the translations and, when WooCommerce is active, every part of the plugin; without
 * WooCommerce it only shows an admin notice.
 */
final class PrintBridge_Plugin {

	/** @var bool Whether boot() ran. */
	private static $booted = false;

	/**
	 * Boots the plugin (on plugins_loaded).
	 *
	 * @return void
	 */
	public static function boot() {
		if ( self::$booted ) {
			return;
		}
		self::$booted = true;
		load_plugin_textdomain( 'printbridge', false, dirname( plugin_basename( PRINTBRIDGE_FILE ) ) . '/languages' );
		if ( ! self::woocommerce_active() ) {
			add_action( 'admin_notices', array( __CLASS__, 'missing_woocommerce_notice' ) );
			return;
		}
		PrintBridge_Cart::init();
		PrintBridge_Product_Page::init();
		PrintBridge_Shop_Loop::init();
		PrintBridge_Webhooks::init();
		if ( is_admin() || wp_doing_ajax() ) {
			PrintBridge_Product_Admin::init();
			PrintBridge_Settings_Page::init();
			PrintBridge_Order_Admin::init();
		}
	}

	/**
	 * Whether WooCommerce is loaded.
	 *
	 * @return bool
	 */
	public static function woocommerce_active() {
		return class_exists( 'WooCommerce' ) && function_exists( 'WC' );
	}

	/**
	 * Admin notice shown when WooCommerce is missing.
	 *
	 * @return void
	 */
	public static function missing_woocommerce_notice() {
		if ( ! current_user_can( 'activate_plugins' ) ) {
			return;
		}
		echo '<div class="notice notice-warning"><p>' . esc_html__( 'PrintBridge needs WooCommerce. Install and activate WooCommerce to personalise products and send orders to the bridge.', 'printbridge' ) . '</p></div>';
	}
}
