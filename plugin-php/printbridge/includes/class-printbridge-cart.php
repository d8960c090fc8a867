<?php
/**
 * Cart and checkout: the design id from the product page to the order line item.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Carries the design id through the classic cart/checkout and the block (Store API)
 * cart/checkout, and writes it as line-item meta at order creation.
 */
final class PrintBridge_Cart {

	/** Cart item data key. */
	const CART_KEY = 'printbridge';
	/** Nonce field of the add-to-cart form. */
	const NONCE_FIELD = 'printbridge_nonce';
	/** Store API extension namespace. */
	const STORE_API_NAMESPACE = 'printbridge';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_filter( 'woocommerce_add_to_cart_validation', array( __CLASS__, 'validate_add_to_cart' ), 10, 3 );
		add_filter( 'woocommerce_add_cart_item_data', array( __CLASS__, 'add_cart_item_data' ), 10, 2 );
		add_filter( 'woocommerce_get_cart_item_from_session', array( __CLASS__, 'cart_item_from_session' ), 10, 2 );
		add_filter( 'woocommerce_get_item_data', array( __CLASS__, 'item_data' ), 10, 2 );
		add_action( 'woocommerce_checkout_create_order_line_item', array( __CLASS__, 'create_order_line_item' ), 10, 3 );
		add_filter( 'woocommerce_hidden_order_itemmeta', array( __CLASS__, 'hidden_order_itemmeta' ) );
		add_filter( 'woocommerce_order_item_get_formatted_meta_data', array( __CLASS__, 'strip_formatted_meta' ), 10, 1 );
		add_action( 'woocommerce_after_order_itemmeta', array( __CLASS__, 'admin_item_label' ), 10, 2 );
		// Block cart/checkout (Store API).
		add_filter( 'woocommerce_store_api_add_to_cart_data', array( __CLASS__, 'store_api_add_to_cart_data' ), 10, 2 );
		add_action( 'woocommerce_store_api_validate_add_to_cart', array( __CLASS__, 'store_api_validate_add_to_cart' ), 10, 2 );
		add_action( 'woocommerce_store_api_validate_cart_item', array( __CLASS__, 'store_api_validate_cart_item' ), 10, 2 );
		add_action( 'woocommerce_check_cart_items', array( __CLASS__, 'check_cart_items' ) );
		// WooCommerce fires woocommerce_blocks_loaded on plugins_loaded (priority 10), before the
		// plugin boots (priority 20): register at once when it has fired, else when it fires.
		if ( did_action( 'woocommerce_blocks_loaded' ) ) {
			self::register_store_api_data();
		} else {
			add_action( 'woocommerce_blocks_loaded', array( __CLASS__, 'register_store_api_data' ) );
		}
	}

	/**
	 * Whether a cart item lacks the design its product needs (e.g. an item added before the
	 * product was set to be personalised, or an "order again" copy).
	 *
	 * @param array $cart_item Cart item.
	 * @return bool
	 */
	public static function lacks_design( $cart_item ) {
		$product_id = is_array( $cart_item ) && isset( $cart_item['product_id'] ) ? (int) $cart_item['product_id'] : 0;
		$provider   = PrintBridge_Product_Settings::provider( $product_id );
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider ) {
			return false;
		}
		$design = self::design_of( $cart_item );
		return null === $design || $design['provider'] !== $provider;
	}

	/**
	 * Classic cart and checkout: an error (which blocks checkout) for items without their design.
	 *
	 * @return void
	 */
	public static function check_cart_items() {
		if ( ! function_exists( 'WC' ) || ! is_object( WC()->cart ) ) {
			return;
		}
		foreach ( WC()->cart->get_cart() as $cart_item ) {
			if ( self::lacks_design( $cart_item ) ) {
				$product = wc_get_product( (int) $cart_item['product_id'] );
				wc_add_notice(
					/* translators: %s: product name */
					sprintf( __( '"%s" needs a personalised design. Please remove it from the cart and personalise it again.', 'printbridge' ), $product ? $product->get_name() : '' ),
					'error'
				);
			}
		}
	}

	/**
	 * Store API (block cart and checkout): rejects items without their design.
	 *
	 * @param WC_Product $product   Product.
	 * @param array      $cart_item Cart item.
	 * @return void
	 * @throws Exception A Store API RouteException (HTTP 400).
	 */
	public static function store_api_validate_cart_item( $product, $cart_item ) {
		if ( ! self::lacks_design( $cart_item ) ) {
			return;
		}
		/* translators: %s: product name */
		$message = sprintf( __( '"%s" needs a personalised design. Please remove it from the cart and personalise it again.', 'printbridge' ), is_object( $product ) ? $product->get_name() : '' );
		$class   = '\Automattic\WooCommerce\StoreApi\Exceptions\RouteException';
		if ( class_exists( $class ) ) {
			throw new $class( 'printbridge_design_missing', $message, 400 );
		}
		throw new Exception( $message ); // phpcs:ignore WordPress.Security.EscapeOutput.ExceptionNotEscaped
	}

	/**
	 * Nonce action of a product's add-to-cart form.
	 *
	 * @param int $product_id Product id.
	 * @return string
	 */
	public static function nonce_action( $product_id ) {
		return 'printbridge_add_to_cart_' . (int) $product_id;
	}

	/**
	 * Classic add to cart: a personalised product needs a well-formed design id and a valid nonce.
	 *
	 * @param bool $passed     Validation so far.
	 * @param int  $product_id Product id.
	 * @param int  $quantity   Quantity.
	 * @return bool
	 */
	public static function validate_add_to_cart( $passed, $product_id, $quantity = 1 ) {
		unset( $quantity );
		if ( ! $passed || self::is_rest_request() ) {
			return $passed;
		}
		$provider = PrintBridge_Product_Settings::provider( (int) $product_id );
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider ) {
			return $passed;
		}
		// phpcs:disable WordPress.Security.NonceVerification.Missing -- verified right here.
		$nonce = isset( $_POST[ self::NONCE_FIELD ] ) ? sanitize_text_field( wp_unslash( $_POST[ self::NONCE_FIELD ] ) ) : '';
		$id    = isset( $_POST[ PrintBridge_Design_Id::FIELD ] ) ? PrintBridge_Design_Id::from_input( $_POST[ PrintBridge_Design_Id::FIELD ] ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- validated by pattern below.
		// phpcs:enable
		if ( ! wp_verify_nonce( $nonce, self::nonce_action( $product_id ) ) ) {
			wc_add_notice( __( 'Your page has expired. Please reload the page and personalise the product again.', 'printbridge' ), 'error' );
			return false;
		}
		if ( '' === $id ) {
			wc_add_notice( __( 'Please personalise this product before adding it to the cart.', 'printbridge' ), 'error' );
			return false;
		}
		if ( ! PrintBridge_Design_Id::is_valid( $provider, $id ) ) {
			wc_add_notice( __( 'The personalised design could not be read. Please personalise the product again.', 'printbridge' ), 'error' );
			return false;
		}
		return $passed;
	}

	/**
	 * Classic add to cart: stores the design on the cart item. Distinct designs give distinct cart lines.
	 *
	 * @param array $data       Cart item data.
	 * @param int   $product_id Product id.
	 * @return array
	 */
	public static function add_cart_item_data( $data, $product_id ) {
		if ( ! is_array( $data ) ) {
			$data = array();
		}
		if ( isset( $data[ self::CART_KEY ] ) ) {
			return $data; // Already set by the Store API path.
		}
		$provider = PrintBridge_Product_Settings::provider( (int) $product_id );
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider ) {
			return $data;
		}
		// phpcs:ignore WordPress.Security.NonceVerification.Missing,WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- nonce checked in validate_add_to_cart; value validated by pattern.
		$id = isset( $_POST[ PrintBridge_Design_Id::FIELD ] ) ? PrintBridge_Design_Id::from_input( $_POST[ PrintBridge_Design_Id::FIELD ] ) : '';
		if ( PrintBridge_Design_Id::is_valid( $provider, $id ) ) {
			$data[ self::CART_KEY ] = self::cart_value( $provider, $id );
		}
		return $data;
	}

	/**
	 * The cart item value for a design.
	 *
	 * @param string $provider  Provider id.
	 * @param string $design_id Design id.
	 * @return array{provider:string,design_id:string}
	 */
	public static function cart_value( $provider, $design_id ) {
		return array(
			'provider'  => $provider,
			'design_id' => $design_id,
		);
	}

	/**
	 * The well-formed design of a cart item, or null.
	 *
	 * @param array $cart_item Cart item (or session values).
	 * @return array{provider:string,design_id:string}|null
	 */
	public static function design_of( $cart_item ) {
		if ( ! is_array( $cart_item ) || ! isset( $cart_item[ self::CART_KEY ] ) || ! is_array( $cart_item[ self::CART_KEY ] ) ) {
			return null;
		}
		$v        = $cart_item[ self::CART_KEY ];
		$provider = isset( $v['provider'] ) ? (string) $v['provider'] : '';
		$id       = isset( $v['design_id'] ) ? $v['design_id'] : '';
		if ( ! PrintBridge_Design_Id::is_valid( $provider, $id ) ) {
			return null;
		}
		return self::cart_value( $provider, $id );
	}

	/**
	 * Restores the design when the cart is loaded from the session.
	 *
	 * @param array $item   Cart item being rebuilt.
	 * @param array $values Stored values.
	 * @return array
	 */
	public static function cart_item_from_session( $item, $values ) {
		$design = self::design_of( $values );
		if ( null !== $design ) {
			$item[ self::CART_KEY ] = $design;
		} else {
			unset( $item[ self::CART_KEY ] );
		}
		return $item;
	}

	/**
	 * Cart and checkout display ("Personalised design"); also used by the Store API `item_data`.
	 *
	 * @param array $data      Item data rows.
	 * @param array $cart_item Cart item.
	 * @return array
	 */
	public static function item_data( $data, $cart_item ) {
		$design = self::design_of( $cart_item );
		if ( null === $design ) {
			return $data;
		}
		$data   = is_array( $data ) ? $data : array();
		$data[] = array(
			'key'     => __( 'Personalised design', 'printbridge' ),
			'value'   => self::short_ref( $design ),
			'display' => '',
		);
		return $data;
	}

	/**
	 * Short, customer-readable reference of a design ("Spiff · 1a2b3c4d").
	 *
	 * @param array{provider:string,design_id:string} $design Design.
	 * @return string
	 */
	public static function short_ref( array $design ) {
		return PrintBridge_Design_Id::provider_label( $design['provider'] ) . ' · ' . substr( $design['design_id'], 0, 8 );
	}

	/**
	 * Order creation (classic and Store API checkout): writes the line-item meta the bridge reads.
	 *
	 * @param WC_Order_Item_Product $item          Line item being created.
	 * @param string                $cart_item_key Cart item key.
	 * @param array                 $values        Cart item.
	 * @return void
	 */
	public static function create_order_line_item( $item, $cart_item_key, $values ) {
		unset( $cart_item_key );
		$design = self::design_of( $values );
		if ( null === $design ) {
			return;
		}
		$item->add_meta_data( PrintBridge_Design_Id::meta_key( $design['provider'] ), $design['design_id'], true );
	}

	/**
	 * Hides the raw meta keys in the admin item meta list (a readable label is shown instead).
	 *
	 * @param string[] $keys Hidden keys.
	 * @return string[]
	 */
	public static function hidden_order_itemmeta( $keys ) {
		$keys   = is_array( $keys ) ? $keys : array();
		$keys[] = PrintBridge_Design_Id::META_SPIFF;
		$keys[] = PrintBridge_Design_Id::META_KEY2PRINT;
		$keys[] = PrintBridge_Cart_Price::META_SETUP;
		return array_values( array_unique( $keys ) );
	}

	/**
	 * Never shows the internal keys in formatted meta (emails, my-account, thank-you page).
	 *
	 * @param array $formatted Formatted meta rows keyed by meta id.
	 * @return array
	 */
	public static function strip_formatted_meta( $formatted ) {
		if ( ! is_array( $formatted ) ) {
			return $formatted;
		}
		foreach ( $formatted as $id => $meta ) {
			$key = is_object( $meta ) && isset( $meta->key ) ? $meta->key : '';
			if ( in_array( $key, array( PrintBridge_Design_Id::META_SPIFF, PrintBridge_Design_Id::META_KEY2PRINT, PrintBridge_Cart_Price::META_SETUP ), true ) ) {
				unset( $formatted[ $id ] );
			}
		}
		return $formatted;
	}

	/**
	 * Readable label of the design under a line item on the admin order screen.
	 *
	 * @param int    $item_id Item id.
	 * @param object $item    Order item.
	 * @return void
	 */
	public static function admin_item_label( $item_id, $item ) {
		unset( $item_id );
		if ( ! is_admin() || ! is_object( $item ) || ! method_exists( $item, 'get_meta' ) ) {
			return;
		}
		foreach ( array( PrintBridge_Design_Id::PROVIDER_SPIFF, PrintBridge_Design_Id::PROVIDER_KEY2PRINT ) as $provider ) {
			$id = (string) $item->get_meta( PrintBridge_Design_Id::meta_key( $provider ), true );
			if ( '' === $id ) {
				continue;
			}
			printf(
				'<div class="printbridge-item-design"><strong>%1$s</strong> <code>%2$s</code></div>',
				/* translators: %s: provider name */
				esc_html( sprintf( __( 'Personalised design (%s):', 'printbridge' ), PrintBridge_Design_Id::provider_label( $provider ) ) ),
				esc_html( $id )
			);
		}
	}

	/**
	 * Store API add-item: reads the design id from the request (`printbridge_design_id`, or
	 * `extensions.printbridge.design_id`) into cart item data.
	 *
	 * @param array           $add_to_cart_data id, quantity, variation, cart_item_data.
	 * @param WP_REST_Request $request          Request.
	 * @return array
	 */
	public static function store_api_add_to_cart_data( $add_to_cart_data, $request ) {
		$product_id = isset( $add_to_cart_data['id'] ) ? (int) $add_to_cart_data['id'] : 0;
		$provider   = PrintBridge_Product_Settings::provider( $product_id );
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider || ! is_object( $request ) ) {
			return $add_to_cart_data;
		}
		$raw = $request->get_param( PrintBridge_Design_Id::FIELD );
		if ( null === $raw ) {
			$ext = $request->get_param( 'extensions' );
			$raw = is_array( $ext ) && isset( $ext[ self::STORE_API_NAMESPACE ]['design_id'] ) ? $ext[ self::STORE_API_NAMESPACE ]['design_id'] : null;
		}
		$id = is_string( $raw ) ? trim( $raw ) : '';
		if ( PrintBridge_Design_Id::is_valid( $provider, $id ) ) {
			if ( ! isset( $add_to_cart_data['cart_item_data'] ) || ! is_array( $add_to_cart_data['cart_item_data'] ) ) {
				$add_to_cart_data['cart_item_data'] = array();
			}
			$add_to_cart_data['cart_item_data'][ self::CART_KEY ] = self::cart_value( $provider, $id );
		}
		return $add_to_cart_data;
	}

	/**
	 * Store API add-item validation: rejects a personalised product without a well-formed design id.
	 *
	 * @param WC_Product $product      Product being added.
	 * @param array      $request_data Add-to-cart data (with cart_item_data).
	 * @return void
	 * @throws Exception A Store API RouteException (HTTP 400) when the design id is missing.
	 */
	public static function store_api_validate_add_to_cart( $product, $request_data ) {
		$provider = PrintBridge_Product_Settings::provider( $product );
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider ) {
			return;
		}
		$data   = is_array( $request_data ) && isset( $request_data['cart_item_data'] ) ? $request_data['cart_item_data'] : array();
		$design = self::design_of( $data );
		if ( null !== $design && $design['provider'] === $provider ) {
			return;
		}
		$message = __( 'Please personalise this product before adding it to the cart.', 'printbridge' );
		$class   = '\Automattic\WooCommerce\StoreApi\Exceptions\RouteException';
		if ( class_exists( $class ) ) {
			throw new $class( 'printbridge_design_required', $message, 400 );
		}
		throw new Exception( $message ); // phpcs:ignore WordPress.Security.EscapeOutput.ExceptionNotEscaped
	}

	/**
	 * Exposes the design of each cart item in the Store API (`extensions.printbridge`).
	 *
	 * @return void
	 */
	public static function register_store_api_data() {
		if ( ! function_exists( 'woocommerce_store_api_register_endpoint_data' ) || ! class_exists( '\Automattic\WooCommerce\StoreApi\Schemas\V1\CartItemSchema' ) ) {
			return;
		}
		woocommerce_store_api_register_endpoint_data(
			array(
				'endpoint'        => \Automattic\WooCommerce\StoreApi\Schemas\V1\CartItemSchema::IDENTIFIER,
				'namespace'       => self::STORE_API_NAMESPACE,
				'data_callback'   => array( __CLASS__, 'store_api_item_data' ),
				'schema_callback' => array( __CLASS__, 'store_api_item_schema' ),
				'schema_type'     => ARRAY_A,
			)
		);
	}

	/**
	 * Store API data of one cart item.
	 *
	 * @param array $cart_item Cart item.
	 * @return array{personalised:bool,provider:string|null,design_id:string|null,edit_url:string|null,price_path:array,line_price:float|null}
	 */
	public static function store_api_item_data( $cart_item ) {
		$design = self::design_of( $cart_item );
		$edit   = isset( $cart_item['key'] ) ? PrintBridge_Cart_Reopen::edit_url( $cart_item, (string) $cart_item['key'] ) : '';
		return array(
			'personalised' => null !== $design,
			'provider'     => $design ? $design['provider'] : null,
			'design_id'    => $design ? $design['design_id'] : null,
			'edit_url'     => '' !== $edit ? $edit : null,
		) + PrintBridge_Cart_Price::store_api_item_data( $cart_item );
	}

	/**
	 * Store API schema of the cart item data.
	 *
	 * @return array
	 */
	public static function store_api_item_schema() {
		return array(
			'personalised' => array(
				'description' => __( 'Whether the item carries a personalised design.', 'printbridge' ),
				'type'        => 'boolean',
				'readonly'    => true,
			),
			'provider'     => array(
				'description' => __( 'Provider of the design.', 'printbridge' ),
				'type'        => array( 'string', 'null' ),
				'readonly'    => true,
			),
			'design_id'    => array(
				'description' => __( 'Design id (Spiff transaction id or Key2print project id).', 'printbridge' ),
				'type'        => array( 'string', 'null' ),
				'readonly'    => true,
			),
			'edit_url'     => array(
				'description' => __( 'Product page that reopens the Key2print editor on this design.', 'printbridge' ),
				'type'        => array( 'string', 'null' ),
				'format'      => 'uri',
				'readonly'    => true,
			),
		) + PrintBridge_Cart_Price::store_api_item_schema();
	}

	/**
	 * Whether this is a REST (Store API) request, where the Store API hooks validate instead.
	 *
	 * @return bool
	 */
	private static function is_rest_request() {
		if ( defined( 'REST_REQUEST' ) && REST_REQUEST ) {
			return true;
		}
		return function_exists( 'WC' ) && is_object( WC() ) && method_exists( WC(), 'is_store_api_request' ) && WC()->is_store_api_request();
	}
}
