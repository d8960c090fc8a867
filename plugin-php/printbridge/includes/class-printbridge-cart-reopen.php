<?php
/**
 * Reopening a Key2print design from the cart.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * An "Edit design" link on each Key2print cart line opens the product page's editor on that
 * line's project (a user-mode work session with its projectId, for the same customer or guest
 * key); finishing the editor writes the design back into the same line. Only lines of the
 * visitor's own cart (their WooCommerce session) can be reopened or changed.
 */
final class PrintBridge_Cart_Reopen {

	/** Query argument naming the cart line on the product page. */
	const QUERY_ARG = 'printbridge_edit';
	/** AJAX action (and nonce action) writing the edited design into the cart line. */
	const AJAX_UPDATE = 'printbridge_k2p_update_item';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'woocommerce_after_cart_item_name', array( __CLASS__, 'render_link' ), 10, 2 );
		add_action( 'wp_ajax_' . self::AJAX_UPDATE, array( __CLASS__, 'ajax_update' ) );
		add_action( 'wp_ajax_nopriv_' . self::AJAX_UPDATE, array( __CLASS__, 'ajax_update' ) );
	}

	/**
	 * The visitor's cart line with a Key2print design of this product (or of a variation of
	 * it), or null.
	 *
	 * @param string $cart_item_key Cart item key.
	 * @param int    $product_id    Product id (the parent of a variation).
	 * @return array|null
	 */
	private static function own_line( $cart_item_key, $product_id ) {
		if ( ! function_exists( 'WC' ) || ! is_object( WC()->cart ) || '' === (string) $cart_item_key ) {
			return null;
		}
		$item   = WC()->cart->get_cart_item( (string) $cart_item_key );
		$design = PrintBridge_Cart::design_of( $item );
		if ( ! $item || null === $design || PrintBridge_Design_Id::PROVIDER_KEY2PRINT !== $design['provider'] ) {
			return null;
		}
		return (int) $item['product_id'] === (int) $product_id ? $item : null;
	}

	/**
	 * The Key2print project of one of the visitor's cart lines of a product, or null.
	 *
	 * @param string $cart_item_key Cart item key.
	 * @param int    $product_id    Product id.
	 * @return string|null
	 */
	public static function project_of( $cart_item_key, $product_id ) {
		$item = self::own_line( $cart_item_key, $product_id );
		return null === $item ? null : $item[ PrintBridge_Cart::CART_KEY ]['design_id'];
	}

	/**
	 * The link's URL for a cart line: the product page naming the line.
	 *
	 * @param array  $cart_item     Cart item.
	 * @param string $cart_item_key Cart item key.
	 * @return string '' for a line without a Key2print design.
	 */
	public static function edit_url( $cart_item, $cart_item_key ) {
		$design = PrintBridge_Cart::design_of( $cart_item );
		if ( null === $design || PrintBridge_Design_Id::PROVIDER_KEY2PRINT !== $design['provider'] ) {
			return '';
		}
		$product = wc_get_product( (int) $cart_item['product_id'] );
		if ( ! $product ) {
			return '';
		}
		return add_query_arg( self::QUERY_ARG, rawurlencode( (string) $cart_item_key ), $product->get_permalink() );
	}

	/**
	 * Classic cart: the "Edit design" link under a Key2print line's name.
	 *
	 * @param array  $cart_item     Cart item.
	 * @param string $cart_item_key Cart item key.
	 * @return void
	 */
	public static function render_link( $cart_item, $cart_item_key ) {
		$url = self::edit_url( $cart_item, $cart_item_key );
		if ( '' === $url ) {
			return;
		}
		printf(
			'<div class="printbridge-edit-design"><a href="%1$s">%2$s</a></div>',
			esc_url( $url ),
			esc_html__( 'Edit design', 'printbridge' )
		);
	}

	/**
	 * The product page's editor settings for reopening the line named in the URL: empty when
	 * the URL names none of the visitor's lines of this product.
	 *
	 * @param WC_Product $product Product shown.
	 * @return array
	 */
	public static function page_config( $product ) {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only selects which of the visitor's own cart lines the page edits; nothing is changed.
		$key = isset( $_GET[ self::QUERY_ARG ] ) ? sanitize_key( wp_unslash( $_GET[ self::QUERY_ARG ] ) ) : '';
		if ( '' === $key || null === self::own_line( $key, (int) $product->get_id() ) ) {
			return array();
		}
		return array(
			'editItem'     => $key,
			'updateAction' => self::AJAX_UPDATE,
			'updateNonce'  => wp_create_nonce( self::AJAX_UPDATE ),
			'updating'     => __( 'Design saved - updating your cart...', 'printbridge' ),
		);
	}

	/**
	 * Writes a new design into one of the visitor's cart lines.
	 *
	 * @param string $cart_item_key Cart item key.
	 * @param int    $product_id    Product id.
	 * @param string $design_id     Key2print project id from the editor.
	 * @return true|WP_Error
	 */
	public static function update_line( $cart_item_key, $product_id, $design_id ) {
		if ( null === self::own_line( $cart_item_key, $product_id ) ) {
			return new WP_Error( 'printbridge_not_in_cart', __( 'This design is not in your cart.', 'printbridge' ), array( 'status' => 403 ) );
		}
		if ( ! PrintBridge_Design_Id::is_valid( PrintBridge_Design_Id::PROVIDER_KEY2PRINT, $design_id ) ) {
			return new WP_Error( 'printbridge_bad_design', __( 'The editor returned no usable design. Please try again.', 'printbridge' ), array( 'status' => 400 ) );
		}
		$cart = WC()->cart;
		$cart->cart_contents[ $cart_item_key ][ PrintBridge_Cart::CART_KEY ] = PrintBridge_Cart::cart_value( PrintBridge_Design_Id::PROVIDER_KEY2PRINT, $design_id );
		$cart->set_session();
		return true;
	}

	/**
	 * AJAX: the editor finished on a reopened line; answers the cart's URL.
	 *
	 * @return void
	 */
	public static function ajax_update() {
		if ( ! check_ajax_referer( self::AJAX_UPDATE, 'nonce', false ) ) {
			wp_send_json_error( array( 'message' => __( 'Your page has expired. Please reload it.', 'printbridge' ) ), 403 );
		}
		$key        = isset( $_POST['cart_item'] ) ? sanitize_key( wp_unslash( $_POST['cart_item'] ) ) : '';
		$product_id = isset( $_POST['product_id'] ) ? absint( wp_unslash( $_POST['product_id'] ) ) : 0;
		$design_id  = isset( $_POST['design_id'] ) ? PrintBridge_Design_Id::from_input( $_POST['design_id'] ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- validated by pattern in update_line().
		$result     = self::update_line( $key, $product_id, $design_id );
		if ( is_wp_error( $result ) ) {
			$data = $result->get_error_data();
			wp_send_json_error( array( 'message' => $result->get_error_message() ), is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 400 );
		}
		wp_send_json_success( array( 'cart_url' => wc_get_cart_url() ) );
	}
}
