<?php
/**
 * Cart price of Key2print products priced by the editor (product gateway).
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Keeps the Key2print editor's setup on the cart item, asks the bridge for its price when the
 * item is added (server side, with the store token) and charges that price on the cart line.
 * The chosen price-tree path ("Production time: Express") is shown on the cart, the checkout,
 * the order and its e-mails, and is part of the Store API's `extensions.printbridge`.
 */
final class PrintBridge_Cart_Price {

	/** Name of the hidden form field (and Store API request field) holding the setup (JSON). */
	const FIELD = 'printbridge_k2p_setup';
	/** Cart item data key. */
	const CART_KEY = 'printbridge_price';
	/** Line-item meta key holding the setup (JSON) on the order. */
	const META_SETUP = '_printbridge_key2print_setup';
	/** Most entries of a setup. */
	const MAX_ENTRIES = 100;
	/** Longest option or value id of a setup. */
	const MAX_ID_LENGTH = 128;

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_filter( 'woocommerce_store_api_add_to_cart_data', array( __CLASS__, 'store_api_add_to_cart_data' ), 10, 2 );
		// After PrintBridge_Cart (priority 10) has put the design on the item.
		add_filter( 'woocommerce_add_cart_item_data', array( __CLASS__, 'add_cart_item_data' ), 20, 3 );
		add_filter( 'woocommerce_get_cart_item_from_session', array( __CLASS__, 'cart_item_from_session' ), 10, 2 );
		add_action( 'woocommerce_before_calculate_totals', array( __CLASS__, 'set_line_prices' ), 20 );
		add_filter( 'woocommerce_get_item_data', array( __CLASS__, 'item_data' ), 20, 2 );
		add_action( 'woocommerce_checkout_create_order_line_item', array( __CLASS__, 'create_order_line_item' ), 10, 3 );
	}

	/**
	 * Whether the cart prices a product from its Key2print setup: a Key2print product whose
	 * editor configures and prices it through the bridge's product gateway.
	 *
	 * @param int $product_id Product id (a variation's parent).
	 * @return bool
	 */
	public static function applies( $product_id ) {
		$settings = PrintBridge_Product_Settings::get( (int) $product_id );
		return PrintBridge_Design_Id::PROVIDER_KEY2PRINT === $settings['provider'] && $settings['k2p_gateway'];
	}

	/**
	 * A setup from request input (JSON text, or an already decoded array): option id => value id,
	 * both plain ids; null when it is not one.
	 *
	 * @param mixed $raw Raw input, without the slashes WordPress adds to $_POST.
	 * @return array<string,string>|null
	 */
	public static function setup_from_input( $raw ) {
		if ( is_string( $raw ) ) {
			$raw = '' === trim( $raw ) ? array() : json_decode( $raw, true );
		}
		if ( ! is_array( $raw ) || count( $raw ) > self::MAX_ENTRIES ) {
			return null;
		}
		$setup = array();
		foreach ( $raw as $option => $value ) {
			if ( ! is_scalar( $value ) || is_bool( $value ) ) {
				return null;
			}
			$option = sanitize_text_field( (string) $option );
			$value  = sanitize_text_field( (string) $value );
			if ( '' === $option || '' === $value || strlen( $option ) > self::MAX_ID_LENGTH || strlen( $value ) > self::MAX_ID_LENGTH ) {
				return null;
			}
			$setup[ $option ] = $value;
		}
		ksort( $setup, SORT_STRING );
		return $setup;
	}

	/**
	 * Store API add-item: reads the setup (`printbridge_k2p_setup`, or
	 * `extensions.printbridge.setup`) into the cart item data, to be priced when it is added.
	 *
	 * @param array           $add_to_cart_data id, quantity, variation, cart_item_data.
	 * @param WP_REST_Request $request          Request.
	 * @return array
	 */
	public static function store_api_add_to_cart_data( $add_to_cart_data, $request ) {
		if ( ! is_array( $add_to_cart_data ) || ! is_object( $request ) ) {
			return $add_to_cart_data;
		}
		$raw = $request->get_param( self::FIELD );
		if ( null === $raw ) {
			$ext = $request->get_param( 'extensions' );
			$raw = is_array( $ext ) && isset( $ext[ PrintBridge_Cart::STORE_API_NAMESPACE ]['setup'] ) ? $ext[ PrintBridge_Cart::STORE_API_NAMESPACE ]['setup'] : null;
		}
		if ( null === $raw ) {
			return $add_to_cart_data;
		}
		if ( ! isset( $add_to_cart_data['cart_item_data'] ) || ! is_array( $add_to_cart_data['cart_item_data'] ) ) {
			$add_to_cart_data['cart_item_data'] = array();
		}
		// Kept as given: add_cart_item_data checks it (and refuses the item when it is not a setup).
		$add_to_cart_data['cart_item_data'][ self::CART_KEY ] = array( 'input' => is_string( $raw ) ? $raw : wp_json_encode( $raw ) );
		return $add_to_cart_data;
	}

	/**
	 * Add to cart (classic and Store API): prices the item's setup at the bridge and keeps the
	 * answer on the item. An item the bridge cannot price is refused with a plain message.
	 *
	 * @param array $data         Cart item data.
	 * @param int   $product_id   Product id.
	 * @param int   $variation_id Variation id (0 for a simple product).
	 * @return array
	 * @throws Exception When the bridge cannot price the setup (a Store API RouteException, HTTP 400).
	 */
	public static function add_cart_item_data( $data, $product_id, $variation_id = 0 ) {
		$data = is_array( $data ) ? $data : array();
		$raw  = isset( $data[ self::CART_KEY ]['input'] ) ? $data[ self::CART_KEY ]['input'] : null;
		unset( $data[ self::CART_KEY ] ); // Only a price computed right here is kept.
		if ( ! self::applies( $product_id ) || null === PrintBridge_Cart::design_of( $data ) ) {
			return $data; // Not priced by the editor, or refused for its missing design anyway.
		}
		if ( null === $raw ) {
			// phpcs:ignore WordPress.Security.NonceVerification.Missing,WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- nonce checked in PrintBridge_Cart::validate_add_to_cart; sanitised by setup_from_input.
			$raw = isset( $_POST[ self::FIELD ] ) ? wp_unslash( $_POST[ self::FIELD ] ) : '';
		}
		$setup = self::setup_from_input( $raw );
		if ( null === $setup ) {
			self::refuse( __( 'The options chosen in the editor could not be read. Please personalise the product again.', 'printbridge' ) );
		}
		$price = self::price_setup( (int) $product_id, (int) $variation_id, $setup );
		if ( is_wp_error( $price ) ) {
			self::refuse( self::refusal_message( $price ) );
		}
		$data[ self::CART_KEY ] = $price;
		return $data;
	}

	/**
	 * Prices a setup at the bridge for a cart line (adding an item and changing a reopened
	 * line both use it): the cart's record of the price, with the setup it was computed for.
	 *
	 * @param int                  $product_id   Product id.
	 * @param int                  $variation_id Variation id (0 for a simple product).
	 * @param array<string,string> $setup        Setup from the editor.
	 * @return array{line_price:float,currency:string,path:array,setup:array}|WP_Error The bridge's
	 *         error, or `printbridge_bad_price` for an answer that is not a price.
	 */
	public static function price_setup( $product_id, $variation_id, array $setup ) {
		$setup  = self::with_variation_options( $setup, (int) $variation_id );
		$answer = PrintBridge_Bridge_Client::from_settings()->key2print_price( (int) $product_id, (int) $variation_id, $setup );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$price = self::price_from_answer( $answer );
		if ( null === $price ) {
			return new WP_Error( 'printbridge_bad_price', 'The bridge answered no price.' );
		}
		$price['setup'] = $setup;
		return $price;
	}

	/**
	 * The setup with the cart variation's own attribute values: the line is that variation, so
	 * its values stand for the product options whatever the editor last sent.
	 *
	 * @param array<string,string> $setup        Setup.
	 * @param int                  $variation_id Variation id.
	 * @return array<string,string>
	 */
	public static function with_variation_options( array $setup, $variation_id ) {
		$variation = $variation_id > 0 ? wc_get_product( $variation_id ) : null;
		if ( ! $variation || ! is_callable( array( $variation, 'get_variation_attributes' ) ) ) {
			return $setup;
		}
		foreach ( $variation->get_variation_attributes( false ) as $option => $value ) {
			if ( is_string( $value ) && '' !== $value ) {
				$setup[ (string) $option ] = $value;
			}
		}
		ksort( $setup, SORT_STRING );
		return $setup;
	}

	/**
	 * Ends the add to cart with a message for the customer.
	 *
	 * @param string $message Message.
	 * @return void
	 * @throws Exception Always: a Store API RouteException (HTTP 400) when the class exists.
	 */
	private static function refuse( $message ) {
		$class = '\Automattic\WooCommerce\StoreApi\Exceptions\RouteException';
		if ( class_exists( $class ) ) {
			throw new $class( 'printbridge_price_unavailable', $message, 400 );
		}
		throw new Exception( $message ); // phpcs:ignore WordPress.Security.EscapeOutput.ExceptionNotEscaped
	}

	/**
	 * The customer's message for a price the bridge refused (its own text may name settings).
	 *
	 * @param array|WP_Error $answer    Bridge answer.
	 * @param bool           $reopened  Whether a reopened cart line was being changed (it stays
	 *                                  as it was) rather than an item added.
	 * @return string
	 */
	public static function refusal_message( $answer, $reopened = false ) {
		$data  = is_wp_error( $answer ) ? $answer->get_error_data() : null;
		$error = is_array( $data ) && isset( $data['error'] ) ? (string) $data['error'] : '';
		if ( 'unavailable' === $error ) {
			return $reopened
				? __( 'The options chosen in the editor cannot be ordered right now, so your cart was not changed. Please choose other options.', 'printbridge' )
				: __( 'The options chosen in the editor cannot be ordered right now, so the product was not added to the cart. Please choose other options.', 'printbridge' );
		}
		if ( in_array( $error, array( 'price_path_incomplete', 'setup_not_priced', 'variation_mismatch' ), true ) ) {
			return $reopened
				? __( 'Please choose all the options in the editor: without them the product has no price, so your cart was not changed.', 'printbridge' )
				: __( 'Please choose all the options in the editor: without them the product has no price, so it was not added to the cart.', 'printbridge' );
		}
		return $reopened
			? __( 'The price of the changed design could not be determined right now, so your cart was not changed. Please try again later or contact the shop.', 'printbridge' )
			: __( 'The price of this personalised product could not be determined right now, so it was not added to the cart. Please try again later or contact the shop.', 'printbridge' );
	}

	/**
	 * The cart's record of a bridge price answer, or null when the answer is not a price.
	 *
	 * @param mixed $answer Decoded answer (or stored cart item value).
	 * @return array{line_price:float,currency:string,path:array}|null
	 */
	public static function price_from_answer( $answer ) {
		if ( ! is_array( $answer ) || ! isset( $answer['line_price'] ) || ! is_numeric( $answer['line_price'] ) || (float) $answer['line_price'] < 0 ) {
			return null;
		}
		$steps = isset( $answer['price_path'] ) ? $answer['price_path'] : ( isset( $answer['path'] ) ? $answer['path'] : array() );
		$path  = self::path_from( $steps );
		if ( null === $path ) {
			return null;
		}
		return array(
			'line_price' => (float) $answer['line_price'],
			'currency'   => isset( $answer['currency'] ) ? sanitize_text_field( (string) $answer['currency'] ) : '',
			'path'       => $path,
		);
	}

	/**
	 * Price-tree steps as the cart keeps them (option and value names), or null when malformed.
	 *
	 * @param mixed $steps Steps.
	 * @return array<int,array{option:string,value:string}>|null
	 */
	private static function path_from( $steps ) {
		if ( ! is_array( $steps ) || count( $steps ) > self::MAX_ENTRIES ) {
			return null;
		}
		$path = array();
		foreach ( $steps as $s ) {
			$option = is_array( $s ) ? ( isset( $s['option_name'] ) ? $s['option_name'] : ( isset( $s['option'] ) ? $s['option'] : null ) ) : null;
			$value  = is_array( $s ) ? ( isset( $s['value_name'] ) ? $s['value_name'] : ( isset( $s['value'] ) ? $s['value'] : null ) ) : null;
			if ( ! is_string( $option ) || ! is_string( $value ) ) {
				return null;
			}
			$path[] = array(
				'option' => sanitize_text_field( $option ),
				'value'  => sanitize_text_field( $value ),
			);
		}
		return $path;
	}

	/**
	 * The well-formed price of a cart item, or null.
	 *
	 * @param array $cart_item Cart item (or session values).
	 * @return array{line_price:float,currency:string,path:array,setup:array}|null
	 */
	public static function price_of( $cart_item ) {
		if ( ! is_array( $cart_item ) || ! isset( $cart_item[ self::CART_KEY ] ) || ! is_array( $cart_item[ self::CART_KEY ] ) ) {
			return null;
		}
		$stored = $cart_item[ self::CART_KEY ];
		$price  = self::price_from_answer( $stored );
		$setup  = isset( $stored['setup'] ) ? self::setup_from_input( $stored['setup'] ) : null;
		if ( null === $price || null === $setup ) {
			return null;
		}
		$price['setup'] = $setup;
		return $price;
	}

	/**
	 * Restores the price when the cart is loaded from the session, and charges it at once.
	 *
	 * @param array $item   Cart item being rebuilt.
	 * @param array $values Stored values.
	 * @return array
	 */
	public static function cart_item_from_session( $item, $values ) {
		$price = self::price_of( $values );
		if ( null === $price ) {
			unset( $item[ self::CART_KEY ] );
			return $item;
		}
		$item[ self::CART_KEY ] = $price;
		if ( isset( $item['data'] ) && is_object( $item['data'] ) ) {
			$item['data']->set_price( $price['line_price'] );
		}
		return $item;
	}

	/**
	 * Charges each priced line its price (classic and block cart: both calculate totals).
	 *
	 * @param WC_Cart $cart Cart.
	 * @return void
	 */
	public static function set_line_prices( $cart ) {
		if ( ! is_object( $cart ) || ! method_exists( $cart, 'get_cart' ) ) {
			return;
		}
		foreach ( $cart->get_cart() as $cart_item ) {
			$price = self::price_of( $cart_item );
			if ( null !== $price && isset( $cart_item['data'] ) && is_object( $cart_item['data'] ) ) {
				$cart_item['data']->set_price( $price['line_price'] );
			}
		}
	}

	/**
	 * Cart and checkout display: one row per price-tree choice ("Production time: Express").
	 *
	 * @param array $data      Item data rows.
	 * @param array $cart_item Cart item.
	 * @return array
	 */
	public static function item_data( $data, $cart_item ) {
		$price = self::price_of( $cart_item );
		if ( null === $price ) {
			return $data;
		}
		$data = is_array( $data ) ? $data : array();
		foreach ( $price['path'] as $step ) {
			$data[] = array(
				'key'     => $step['option'],
				'value'   => $step['value'],
				'display' => '',
			);
		}
		return $data;
	}

	/**
	 * Order creation: each price-tree choice becomes visible line-item meta (shown on the order
	 * and in its e-mails), the setup hidden meta.
	 *
	 * @param WC_Order_Item_Product $item          Line item being created.
	 * @param string                $cart_item_key Cart item key.
	 * @param array                 $values        Cart item.
	 * @return void
	 */
	public static function create_order_line_item( $item, $cart_item_key, $values ) {
		unset( $cart_item_key );
		$price = self::price_of( $values );
		if ( null === $price ) {
			return;
		}
		foreach ( $price['path'] as $step ) {
			$item->add_meta_data( $step['option'], $step['value'] );
		}
		$item->add_meta_data( self::META_SETUP, wp_json_encode( $price['setup'] ), true );
	}

	/**
	 * Store API data of one cart item: the price-tree path and the line price (null when the
	 * item is not priced by the editor).
	 *
	 * @param array $cart_item Cart item.
	 * @return array{price_path:array,line_price:float|null}
	 */
	public static function store_api_item_data( $cart_item ) {
		$price = self::price_of( $cart_item );
		return array(
			'price_path' => null === $price ? array() : $price['path'],
			'line_price' => null === $price ? null : $price['line_price'],
		);
	}

	/**
	 * Store API schema of that data.
	 *
	 * @return array
	 */
	public static function store_api_item_schema() {
		return array(
			'price_path' => array(
				'description' => __( 'The price-tree choices of the Key2print editor, as option and value names.', 'printbridge' ),
				'type'        => 'array',
				'readonly'    => true,
				'items'       => array(
					'type'       => 'object',
					'properties' => array(
						'option' => array( 'type' => 'string' ),
						'value'  => array( 'type' => 'string' ),
					),
				),
			),
			'line_price' => array(
				'description' => __( 'The unit price the bridge computed for the setup, as the shop enters prices.', 'printbridge' ),
				'type'        => array( 'number', 'null' ),
				'readonly'    => true,
			),
		);
	}
}
