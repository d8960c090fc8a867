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
 * key); finishing the editor writes the design back into the same line, priced again from the
 * editor's setup when the editor prices the product. Only lines of the visitor's own cart
 * (their WooCommerce session) can be reopened or changed. The block cart shows the link as an
 * item-data row of the Store API's cart item.
 */
final class PrintBridge_Cart_Reopen {

	/** Query argument naming the cart line on the product page. */
	const QUERY_ARG = 'printbridge_edit';
	/** AJAX action (and nonce action) writing the edited design into the cart line. */
	const AJAX_UPDATE = 'printbridge_k2p_update_item';

	/**
	 * First WooCommerce version known to keep links in the Store API's item data (9.9 strips
	 * every tag from it, 11.0 keeps what wp_kses_post() allows).
	 */
	const ITEM_DATA_HTML_SINCE = '11.0';

	/**
	 * For each REST request being answered (innermost last): whether it is a Store API one.
	 *
	 * @var bool[]
	 */
	private static $rest_stack = array();

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'woocommerce_after_cart_item_name', array( __CLASS__, 'render_link' ), 10, 2 );
		add_action( 'wp_ajax_' . self::AJAX_UPDATE, array( __CLASS__, 'ajax_update' ) );
		add_action( 'wp_ajax_nopriv_' . self::AJAX_UPDATE, array( __CLASS__, 'ajax_update' ) );
		add_filter( 'rest_request_before_callbacks', array( __CLASS__, 'enter_rest_request' ), 10, 3 );
		add_filter( 'rest_request_after_callbacks', array( __CLASS__, 'leave_rest_request' ), 10, 3 );
		// The block cart page preloads its cart by calling the Store API's controller directly.
		add_filter( 'woocommerce_hydration_dispatch_request', array( __CLASS__, 'enter_hydration' ), 10, 2 );
		add_filter( 'woocommerce_hydration_request_after_callbacks', array( __CLASS__, 'leave_rest_request' ), 10, 3 );
		add_filter( 'woocommerce_get_item_data', array( __CLASS__, 'store_api_link' ), 30, 2 );
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
	 * REST: notes whether the request being answered is a Store API one (the block cart's,
	 * including the cart the page preloads), whose item data carries the "Edit design" link.
	 *
	 * @param mixed           $response Response so far (passed through).
	 * @param array           $handler  Route handler.
	 * @param WP_REST_Request $request  Request.
	 * @return mixed
	 */
	public static function enter_rest_request( $response, $handler, $request ) {
		unset( $handler );
		$route              = is_object( $request ) && method_exists( $request, 'get_route' ) ? (string) $request->get_route() : '';
		self::$rest_stack[] = 0 === strpos( $route, '/wc/store/' );
		return $response;
	}

	/**
	 * Block cart page: notes the Store API request WooCommerce answers to preload the page.
	 *
	 * @param mixed           $result  Hydration result so far (passed through).
	 * @param WP_REST_Request $request Request.
	 * @return mixed
	 */
	public static function enter_hydration( $result, $request ) {
		return self::enter_rest_request( $result, array(), $request );
	}

	/**
	 * REST: the request noted by enter_rest_request() is answered.
	 *
	 * @param mixed $response Response (passed through).
	 * @param array $handler  Route handler.
	 * @param mixed $request  Request.
	 * @return mixed
	 */
	public static function leave_rest_request( $response, $handler, $request ) {
		unset( $handler, $request );
		array_pop( self::$rest_stack );
		return $response;
	}

	/**
	 * Block cart: the "Edit design" link as an item-data row of the Store API's cart item. The
	 * block cart renders item-data values as HTML limited to a few tags (links among them),
	 * while its JavaScript filters (`itemName`, `cartItemClass`) can only change the product
	 * name, itself already a link, or a class. The classic cart has its own link, so the row
	 * is added only while a Store API request is answered, and only by a WooCommerce that keeps
	 * the link (an older one would show the words without it).
	 *
	 * @param array $data      Item data rows.
	 * @param array $cart_item Cart item.
	 * @return array
	 */
	public static function store_api_link( $data, $cart_item ) {
		if ( empty( self::$rest_stack ) || ! end( self::$rest_stack ) || ! is_array( $cart_item ) || ! isset( $cart_item['key'] ) ) {
			return $data;
		}
		if ( ! defined( 'WC_VERSION' ) || version_compare( WC_VERSION, self::ITEM_DATA_HTML_SINCE, '<' ) ) {
			return $data;
		}
		$url = self::edit_url( $cart_item, (string) $cart_item['key'] );
		if ( '' === $url ) {
			return $data;
		}
		$data   = is_array( $data ) ? $data : array();
		$link   = sprintf( '<a class="printbridge-edit-design" href="%1$s">%2$s</a>', esc_url( $url ), esc_html__( 'Edit design', 'printbridge' ) );
		$data[] = array(
			'key'     => '',
			'value'   => $link,
			'display' => $link,
		);
		return $data;
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
		$line = '' === $key ? null : self::own_line( $key, (int) $product->get_id() );
		if ( null === $line ) {
			return array();
		}
		return array(
			'editItem'     => $key,
			'updateAction' => self::AJAX_UPDATE,
			'updateNonce'  => wp_create_nonce( self::AJAX_UPDATE ),
			'updating'     => __( 'Design saved - updating your cart...', 'printbridge' ),
			'setup'        => self::setup_of( $line ),
		);
	}

	/**
	 * The setup a line was priced for (the editor starts from it), or null for a line not
	 * priced by the editor.
	 *
	 * @param array $line Cart item.
	 * @return object|null Option id => value id (an object, so that it is a JSON object).
	 */
	private static function setup_of( $line ) {
		$price = PrintBridge_Cart_Price::price_of( $line );
		return null === $price ? null : (object) $price['setup'];
	}

	/**
	 * Writes a new design into one of the visitor's cart lines. For a product priced by the
	 * editor the line takes the price, price path and setup the bridge computes for the
	 * editor's latest setup (as adding to the cart does); when that fails, or the setup belongs
	 * to another variation, the line stays as it was.
	 *
	 * @param string      $cart_item_key Cart item key.
	 * @param int         $product_id    Product id.
	 * @param string      $design_id     Key2print project id from the editor.
	 * @param string|null $raw_setup     The editor's setup (JSON), null when none was sent.
	 * @return true|WP_Error
	 */
	public static function update_line( $cart_item_key, $product_id, $design_id, $raw_setup = null ) {
		$line = self::own_line( $cart_item_key, $product_id );
		if ( null === $line ) {
			return new WP_Error( 'printbridge_not_in_cart', __( 'This design is not in your cart.', 'printbridge' ), array( 'status' => 403 ) );
		}
		if ( ! PrintBridge_Design_Id::is_valid( PrintBridge_Design_Id::PROVIDER_KEY2PRINT, $design_id ) ) {
			return new WP_Error( 'printbridge_bad_design', __( 'The editor returned no usable design. Please try again.', 'printbridge' ), array( 'status' => 400 ) );
		}
		$price = self::reprice( $line, $raw_setup );
		if ( is_wp_error( $price ) ) {
			return $price;
		}
		$cart = WC()->cart;
		$cart->cart_contents[ $cart_item_key ][ PrintBridge_Cart::CART_KEY ] = PrintBridge_Cart::cart_value( PrintBridge_Design_Id::PROVIDER_KEY2PRINT, $design_id );
		if ( null !== $price ) {
			$cart->cart_contents[ $cart_item_key ][ PrintBridge_Cart_Price::CART_KEY ] = $price;
			$cart->calculate_totals();
		}
		$cart->set_session();
		return true;
	}

	/**
	 * The line's price for the editor's setup, null for a product the editor does not price.
	 *
	 * @param array       $line      Cart item.
	 * @param string|null $raw_setup The editor's setup (JSON).
	 * @return array|null|WP_Error
	 */
	private static function reprice( array $line, $raw_setup ) {
		if ( ! PrintBridge_Cart_Price::applies( (int) $line['product_id'] ) ) {
			return null;
		}
		$setup = null === $raw_setup ? null : PrintBridge_Cart_Price::setup_from_input( $raw_setup );
		if ( null === $setup ) {
			return new WP_Error( 'printbridge_bad_setup', __( 'The options chosen in the editor could not be read, so your cart was not changed. Please open the editor from your cart again.', 'printbridge' ), array( 'status' => 400 ) );
		}
		if ( self::changes_variation( $line, $setup ) ) {
			return new WP_Error( 'printbridge_other_variation', __( 'The options chosen in the editor belong to another variant of this product, so your cart was not changed. Keep this line\'s options in the editor, or add the product to the cart again with the new options.', 'printbridge' ), array( 'status' => 409 ) );
		}
		$price = PrintBridge_Cart_Price::price_setup( (int) $line['product_id'], isset( $line['variation_id'] ) ? (int) $line['variation_id'] : 0, $setup );
		if ( is_wp_error( $price ) ) {
			return new WP_Error( 'printbridge_price_unavailable', PrintBridge_Cart_Price::refusal_message( $price, true ), array( 'status' => 409 ) );
		}
		return $price;
	}

	/**
	 * Whether a setup chooses, for one of the line's variation attributes, another value than
	 * the line's: the setup then designates another variation, which the line is not.
	 *
	 * @param array                $line  Cart item.
	 * @param array<string,string> $setup Setup.
	 * @return bool
	 */
	private static function changes_variation( array $line, array $setup ) {
		$chosen = isset( $line['variation'] ) && is_array( $line['variation'] ) ? $line['variation'] : array();
		foreach ( $chosen as $attribute => $value ) {
			$option = 0 === strpos( (string) $attribute, 'attribute_' ) ? substr( (string) $attribute, 10 ) : (string) $attribute;
			if ( is_scalar( $value ) && '' !== (string) $value && isset( $setup[ $option ] ) && $setup[ $option ] !== (string) $value ) {
				return true;
			}
		}
		return false;
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
		// phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitised by PrintBridge_Cart_Price::setup_from_input().
		$setup      = isset( $_POST[ PrintBridge_Cart_Price::FIELD ] ) ? wp_unslash( $_POST[ PrintBridge_Cart_Price::FIELD ] ) : null;
		$result     = self::update_line( $key, $product_id, $design_id, is_string( $setup ) ? $setup : null );
		if ( is_wp_error( $result ) ) {
			$data = $result->get_error_data();
			wp_send_json_error( array( 'message' => $result->get_error_message() ), is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 400 );
		}
		wp_send_json_success( array( 'cart_url' => wc_get_cart_url() ) );
	}
}
