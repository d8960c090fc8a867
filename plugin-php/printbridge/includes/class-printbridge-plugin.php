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
		PrintBridge_Cart_Price::init();
		PrintBridge_Cart_Reopen::init();
		PrintBridge_Product_Page::init();
		PrintBridge_Shop_Loop::init();
		PrintBridge_Webhooks::init();
		PrintBridge_Privacy::init();
		PrintBridge_Key2print_Flush::init();
		add_action( PrintBridge_Settings::REFRESH_HOOK, array( 'PrintBridge_Settings', 'refresh_from_bridge' ) );
		add_action( 'init', array( __CLASS__, 'schedule_refresh' ) );
		if ( is_admin() || wp_doing_ajax() ) {
			PrintBridge_Product_Admin::init();
			PrintBridge_Merchant_Editor::init();
			PrintBridge_Key2print_Lists::init();
			PrintBridge_Settings_Page::init();
			PrintBridge_Order_Admin::init();
			PrintBridge_Order_Actions::init();
		}
	}

	/**
	 * Schedules the twice-daily refresh of what the bridge says about the store (on init).
	 *
	 * @return void
	 */
	public static function schedule_refresh() {
		if ( ! wp_next_scheduled( PrintBridge_Settings::REFRESH_HOOK ) ) {
			wp_schedule_event( time() + HOUR_IN_SECONDS, 'twicedaily', PrintBridge_Settings::REFRESH_HOOK );
		}
	}

	/**
	 * Removes the scheduled refresh (on deactivation).
	 *
	 * @return void
	 */
	public static function deactivate() {
		wp_clear_scheduled_hook( PrintBridge_Settings::REFRESH_HOOK );
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
