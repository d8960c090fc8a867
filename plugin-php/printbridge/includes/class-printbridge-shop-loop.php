<?php
/**
 * Shop loops: a personalised product's button leads to its product page.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * A personalised product cannot go into the cart without a design made on its product page, so
 * in shop loops, product collection blocks and the Store API its "Add to cart" becomes a
 * "Personalise" link to the product page, the way WooCommerce treats variable products
 * ("Select options"): the product's add_to_cart_url(), add_to_cart_text(),
 * add_to_cart_description() and supports( 'ajax_add_to_cart' ) say so.
 */
final class PrintBridge_Shop_Loop {

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_filter( 'woocommerce_product_add_to_cart_url', array( __CLASS__, 'add_to_cart_url' ), 10, 2 );
		add_filter( 'woocommerce_product_add_to_cart_text', array( __CLASS__, 'add_to_cart_text' ), 10, 2 );
		add_filter( 'woocommerce_product_add_to_cart_description', array( __CLASS__, 'add_to_cart_description' ), 10, 2 );
		add_filter( 'woocommerce_product_supports', array( __CLASS__, 'supports' ), 10, 3 );
	}

	/**
	 * Whether a product's loop button leads to its page to be personalised: a personalised
	 * product that could otherwise be added to the cart (not grouped or external, purchasable,
	 * in stock).
	 *
	 * @param mixed $product Product.
	 * @return bool
	 */
	public static function needs_personalising( $product ) {
		if ( ! $product instanceof WC_Product || $product->is_type( array( 'grouped', 'external' ) ) ) {
			return false;
		}
		if ( PrintBridge_Design_Id::PROVIDER_NONE === PrintBridge_Product_Settings::provider( $product ) ) {
			return false;
		}
		return $product->is_purchasable() && $product->is_in_stock();
	}

	/**
	 * The product page instead of `?add-to-cart=ID`.
	 *
	 * @param string     $url     URL.
	 * @param WC_Product $product Product.
	 * @return string
	 */
	public static function add_to_cart_url( $url, $product = null ) {
		return self::needs_personalising( $product ) ? $product->get_permalink() : $url;
	}

	/**
	 * "Personalise" instead of "Add to cart" / "Select options".
	 *
	 * @param string     $text    Button text.
	 * @param WC_Product $product Product.
	 * @return string
	 */
	public static function add_to_cart_text( $text, $product = null ) {
		return self::needs_personalising( $product ) ? __( 'Personalise', 'printbridge' ) : $text;
	}

	/**
	 * The button's accessible label.
	 *
	 * @param string     $text    Description.
	 * @param WC_Product $product Product.
	 * @return string
	 */
	public static function add_to_cart_description( $text, $product = null ) {
		if ( ! self::needs_personalising( $product ) ) {
			return $text;
		}
		/* translators: %s: product name */
		return sprintf( __( 'Personalise &ldquo;%s&rdquo;', 'printbridge' ), $product->get_name() );
	}

	/**
	 * No AJAX add to cart from loops: the design is made on the product page.
	 *
	 * @param bool       $supports Whether the feature is supported.
	 * @param string     $feature  Feature.
	 * @param WC_Product $product  Product.
	 * @return bool
	 */
	public static function supports( $supports, $feature, $product = null ) {
		if ( 'ajax_add_to_cart' === $feature && self::needs_personalising( $product ) ) {
			return false;
		}
		return $supports;
	}
}
