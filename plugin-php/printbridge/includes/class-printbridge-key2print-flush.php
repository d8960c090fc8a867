<?php
/**
 * Key2print gateway cache flushes on every change of a product's catalog data.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Collects the Key2print products changed during a request (a product, a variation, stock, a
 * sale price, deletion, from any screen, REST, import or cron) and asks the bridge once per
 * product to flush the editor's cached catalog data, at shutdown. Variations count for their
 * parent, whose id is the editor's product identifier.
 */
final class PrintBridge_Key2print_Flush {

	/** @var array<int,true> Products to flush at shutdown. */
	private static $pending = array();
	/** @var array<int,true> Products already flushed in this request. */
	private static $done = array();

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		// Any save: edit screen, variation AJAX, quick/bulk edit, REST, CSV import, sale start/end.
		foreach ( array( 'woocommerce_new_product', 'woocommerce_update_product', 'woocommerce_new_product_variation', 'woocommerce_update_product_variation' ) as $hook ) {
			add_action( $hook, array( __CLASS__, 'queue' ), 10, 1 );
		}
		foreach ( array( 'woocommerce_save_product_variation', 'woocommerce_product_quick_edit_save', 'woocommerce_product_bulk_edit_save' ) as $hook ) {
			add_action( $hook, array( __CLASS__, 'queue' ), 10, 1 );
		}
		// Stock written straight to the database (orders, wc_update_product_stock()).
		foreach ( array( 'woocommerce_product_set_stock', 'woocommerce_variation_set_stock', 'woocommerce_product_set_stock_status', 'woocommerce_variation_set_stock_status' ) as $hook ) {
			add_action( $hook, array( __CLASS__, 'queue' ), 10, 1 );
		}
		// Scheduled sales (the daily wc_scheduled_sales run).
		add_action( 'wc_after_products_starting_sales', array( __CLASS__, 'queue_many' ) );
		add_action( 'wc_after_products_ending_sales', array( __CLASS__, 'queue_many' ) );
		// Deletion and trash, read before the product is gone.
		add_action( 'before_delete_post', array( __CLASS__, 'queue_post' ) );
		add_action( 'wp_trash_post', array( __CLASS__, 'queue_post' ) );
		add_action( 'untrashed_post', array( __CLASS__, 'queue_post' ) );
		add_action( 'woocommerce_before_delete_product_variation', array( __CLASS__, 'queue' ) );
		add_action( 'shutdown', array( __CLASS__, 'send' ) );
	}

	/**
	 * Queues a product (or a variation's parent) when it is personalised with Key2print.
	 *
	 * @param WC_Product|int $product Product, variation or id.
	 * @return void
	 */
	public static function queue( $product ) {
		$id = self::key2print_product_id( $product );
		if ( $id > 0 && ! isset( self::$done[ $id ] ) ) {
			self::$pending[ $id ] = true;
		}
	}

	/**
	 * Queues several products (the scheduled sales hooks pass ids).
	 *
	 * @param int[] $product_ids Product ids.
	 * @return void
	 */
	public static function queue_many( $product_ids ) {
		foreach ( (array) $product_ids as $id ) {
			self::queue( (int) $id );
		}
	}

	/**
	 * Queues a product or variation post that is being deleted, trashed or restored.
	 *
	 * @param int $post_id Post id.
	 * @return void
	 */
	public static function queue_post( $post_id ) {
		if ( in_array( get_post_type( $post_id ), array( 'product', 'product_variation' ), true ) ) {
			self::queue( (int) $post_id );
		}
	}

	/**
	 * Forgets what was queued and flushed, so the next change of any product flushes again (a
	 * process that serves several requests in turn, such as a test run).
	 *
	 * @return void
	 */
	public static function reset() {
		self::$pending = array();
		self::$done    = array();
	}

	/**
	 * The products waiting for a flush.
	 *
	 * @return int[]
	 */
	public static function pending() {
		return array_keys( self::$pending );
	}

	/**
	 * Flushes one product now (the product edit screen shows the outcome) and not again later
	 * in this request.
	 *
	 * @param int $product_id Product id.
	 * @return array|WP_Error|null The bridge's answer, or null when nothing was sent.
	 */
	public static function flush_now( $product_id ) {
		$product_id = (int) $product_id;
		unset( self::$pending[ $product_id ] );
		if ( isset( self::$done[ $product_id ] ) || ! PrintBridge_Settings::is_connected() ) {
			return null;
		}
		self::$done[ $product_id ] = true;
		return PrintBridge_Bridge_Client::from_settings( 5 )->key2print_flush_cache( $product_id );
	}

	/**
	 * Sends the queued flushes (on shutdown), one per product.
	 *
	 * @return array<int,array|WP_Error|null> Product id => the bridge's answer.
	 */
	public static function send() {
		$results = array();
		foreach ( array_keys( self::$pending ) as $id ) {
			$results[ $id ] = self::flush_now( $id );
			if ( is_wp_error( $results[ $id ] ) && function_exists( 'wc_get_logger' ) ) {
				// A background change has no screen to show the failure on: WooCommerce's log keeps it.
				wc_get_logger()->warning(
					sprintf( 'Flushing the Key2print cache of product %d failed: %s', $id, $results[ $id ]->get_error_message() ),
					array( 'source' => 'printbridge' )
				);
			}
		}
		self::$pending = array();
		return $results;
	}

	/**
	 * The id the editor knows a product by (a variation's parent), when the product is
	 * personalised with Key2print; else 0.
	 *
	 * @param WC_Product|int $product Product, variation or id.
	 * @return int
	 */
	private static function key2print_product_id( $product ) {
		if ( ! is_object( $product ) ) {
			$product = wc_get_product( (int) $product );
		}
		if ( ! is_object( $product ) || ! method_exists( $product, 'get_id' ) ) {
			return 0;
		}
		if ( PrintBridge_Design_Id::PROVIDER_KEY2PRINT !== PrintBridge_Product_Settings::provider( $product ) ) {
			return 0;
		}
		$parent = $product->is_type( 'variation' ) ? (int) $product->get_parent_id() : 0;
		return $parent > 0 ? $parent : (int) $product->get_id();
	}
}
