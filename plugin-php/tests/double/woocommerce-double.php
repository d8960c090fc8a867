<?php
/**
 * A small WooCommerce test double: the parts of WooCommerce's API PrintBridge uses, with the
 * same hook names, arguments and cart-id rule as WooCommerce. Products are real WordPress posts
 * with post meta; webhooks are kept in an option.
 *
 * @package PrintBridge\Tests
 */

// phpcs:ignoreFile

namespace Automattic\WooCommerce\StoreApi\Exceptions {
	/** Store API error with an HTTP status (as in WooCommerce). */
	class RouteException extends \Exception {
		/** @var string */
		public $error_code;
		/** @var int */
		public $http_status_code;
		public function __construct( $error_code, $message, $http_status_code = 400 ) {
			$this->error_code       = $error_code;
			$this->http_status_code = $http_status_code;
			parent::__construct( $message );
		}
		public function getErrorCode() {
			return $this->error_code;
		}
	}
}

namespace {

	class WooCommerce {
		/** @var WC_Cart */
		public $cart;
		/** @var WC_Checkout */
		public $checkout;
		public $notices = array();
		private static $instance;
		public static function instance() {
			if ( null === self::$instance ) {
				self::$instance           = new self();
				self::$instance->cart     = new WC_Cart();
				self::$instance->checkout = new WC_Checkout();
			}
			return self::$instance;
		}
		/** @var bool Whether the current request is a Store API request. */
		public $store_api_request = false;
		public function is_store_api_request() {
			return $this->store_api_request;
		}
	}

	function WC() {
		return WooCommerce::instance();
	}

	function wc_add_notice( $message, $type = 'success' ) {
		WC()->notices[] = array( 'type' => $type, 'message' => $message );
	}

	function wc_get_notices( $type = '' ) {
		return '' === $type ? WC()->notices : array_values( array_filter( WC()->notices, function ( $n ) use ( $type ) {
			return $n['type'] === $type;
		} ) );
	}

	function wc_clear_notices() {
		WC()->notices = array();
	}

	function get_woocommerce_currency() {
		return get_option( 'woocommerce_currency', 'EUR' );
	}

	function is_product() {
		return is_singular( 'product' );
	}

	function wc_get_page_screen_id( $for ) {
		return 'woocommerce_page_wc-orders';
	}

	/** Registers product post types and gives administrators WooCommerce's capabilities. */
	function wcdouble_setup() {
		register_post_type( 'product', array( 'public' => true, 'capability_type' => 'product', 'map_meta_cap' => true ) );
		register_post_type( 'product_variation', array( 'public' => false, 'capability_type' => 'product', 'map_meta_cap' => true ) );
		$role = get_role( 'administrator' );
		if ( $role ) {
			foreach ( array( 'manage_woocommerce', 'edit_products', 'edit_others_products', 'edit_published_products', 'edit_private_products', 'read_product', 'publish_products' ) as $cap ) {
				$role->add_cap( $cap );
			}
		}
	}

	function wc_get_product( $id ) {
		if ( is_object( $id ) && $id instanceof WC_Product ) {
			return $id;
		}
		$post = get_post( (int) $id );
		if ( ! $post || ! in_array( $post->post_type, array( 'product', 'product_variation' ), true ) ) {
			return false;
		}
		return new WC_Product( $post->ID );
	}

	class WC_Product {
		private $id;
		private $changes = array();
		public function __construct( $id ) {
			$this->id = (int) $id;
		}
		public function get_id() {
			return $this->id;
		}
		public function get_parent_id() {
			return (int) wp_get_post_parent_id( $this->id );
		}
		public function is_type( $type ) {
			$t = 'product_variation' === get_post_type( $this->id ) ? 'variation' : 'simple';
			return is_array( $type ) ? in_array( $t, $type, true ) : $t === $type;
		}
		public function get_name() {
			return get_the_title( $this->id );
		}
		public function get_sku() {
			return (string) get_post_meta( $this->id, '_sku', true );
		}
		public function get_meta( $key, $single = true ) {
			if ( array_key_exists( $key, $this->changes ) ) {
				return $this->changes[ $key ];
			}
			return get_post_meta( $this->id, $key, $single );
		}
		public function update_meta_data( $key, $value ) {
			$this->changes[ $key ] = $value;
		}
		public function save() {
			foreach ( $this->changes as $k => $v ) {
				update_post_meta( $this->id, $k, $v );
			}
			$this->changes = array();
			return $this->id;
		}
	}

	class WC_Meta_Data {
		public $id;
		public $key;
		public $value;
		public function __construct( $id, $key, $value ) {
			$this->id    = $id;
			$this->key   = $key;
			$this->value = $value;
		}
	}

	class WC_Order_Item_Product {
		private $meta = array();
		private $next = 1;
		public $product_id = 0;
		public $quantity   = 1;
		public function add_meta_data( $key, $value, $unique = false ) {
			if ( $unique ) {
				$this->meta = array_filter( $this->meta, function ( $m ) use ( $key ) {
					return $m->key !== $key;
				} );
			}
			$this->meta[ $this->next ] = new WC_Meta_Data( $this->next, $key, $value );
			++$this->next;
		}
		public function get_meta( $key, $single = true ) {
			foreach ( $this->meta as $m ) {
				if ( $m->key === $key ) {
					return $m->value;
				}
			}
			return $single ? '' : array();
		}
		public function get_meta_data() {
			return array_values( $this->meta );
		}
		/** As WC_Order_Item::get_formatted_meta_data(): skips protected (`_`) keys, then the filter. */
		public function get_formatted_meta_data( $hideprefix = '_' ) {
			$out = array();
			foreach ( $this->meta as $m ) {
				if ( '' !== $hideprefix && 0 === strpos( $m->key, $hideprefix ) ) {
					continue;
				}
				$out[ $m->id ] = (object) array( 'key' => $m->key, 'value' => $m->value, 'display_key' => $m->key, 'display_value' => $m->value );
			}
			return apply_filters( 'woocommerce_order_item_get_formatted_meta_data', $out, $this );
		}
	}

	class WC_Order {
		private $id;
		public $items = array();
		public function __construct( $id ) {
			$this->id = (int) $id;
		}
		public function get_id() {
			return $this->id;
		}
		public function add_item( $item ) {
			$this->items[] = $item;
		}
	}

	class WC_Cart {
		public $cart_contents = array();
		/** As WC_Cart::generate_cart_id(). */
		public function generate_cart_id( $product_id, $variation_id = 0, $variation = array(), $cart_item_data = array() ) {
			$id_parts = array( $product_id );
			if ( $variation_id && 0 !== $variation_id ) {
				$id_parts[] = $variation_id;
			}
			if ( is_array( $variation ) && ! empty( $variation ) ) {
				$variation_key = '';
				foreach ( $variation as $key => $value ) {
					$variation_key .= trim( $key ) . trim( $value );
				}
				$id_parts[] = $variation_key;
			}
			if ( is_array( $cart_item_data ) && ! empty( $cart_item_data ) ) {
				$cart_item_data_key = '';
				foreach ( $cart_item_data as $key => $value ) {
					if ( is_array( $value ) || is_object( $value ) ) {
						$value = http_build_query( $value );
					}
					$cart_item_data_key .= trim( $key ) . trim( $value );
				}
				$id_parts[] = $cart_item_data_key;
			}
			return apply_filters( 'woocommerce_cart_id', md5( implode( '_', $id_parts ) ), $product_id, $variation_id, $variation, $cart_item_data );
		}
		/** As WC_Cart::add_to_cart() (the parts that touch cart item data). */
		public function add_to_cart( $product_id = 0, $quantity = 1, $variation_id = 0, $variation = array(), $cart_item_data = array() ) {
			$cart_item_data = (array) apply_filters( 'woocommerce_add_cart_item_data', $cart_item_data, $product_id, $variation_id, $quantity );
			$cart_id        = $this->generate_cart_id( $product_id, $variation_id, $variation, $cart_item_data );
			if ( isset( $this->cart_contents[ $cart_id ] ) ) {
				$this->cart_contents[ $cart_id ]['quantity'] += $quantity;
			} else {
				$this->cart_contents[ $cart_id ] = array_merge(
					$cart_item_data,
					array(
						'key'          => $cart_id,
						'product_id'   => $product_id,
						'variation_id' => $variation_id,
						'variation'    => $variation,
						'quantity'     => $quantity,
					)
				);
			}
			return $cart_id;
		}
		/** As WC_Form_Handler::add_to_cart_action() for a simple product: validation, then add. */
		public function form_add_to_cart( $product_id ) {
			$quantity = empty( $_POST['quantity'] ) ? 1 : (int) $_POST['quantity'];
			$passed   = apply_filters( 'woocommerce_add_to_cart_validation', true, $product_id, $quantity );
			if ( ! $passed ) {
				return false;
			}
			return $this->add_to_cart( $product_id, $quantity );
		}
		/** Stored form of the cart (what WooCommerce keeps in the session). */
		public function get_cart_for_session() {
			$out = array();
			foreach ( $this->cart_contents as $key => $values ) {
				$out[ $key ] = $values;
			}
			return $out;
		}
		/** As WC_Cart_Session::get_cart_from_session(): rebuilds items through the filter. */
		public function load_from_session( array $stored ) {
			$this->cart_contents = array();
			foreach ( $stored as $key => $values ) {
				$item                        = array_merge( $values, array( 'data' => wc_get_product( $values['variation_id'] ? $values['variation_id'] : $values['product_id'] ) ) );
				$this->cart_contents[ $key ] = apply_filters( 'woocommerce_get_cart_item_from_session', $item, $values, $key );
			}
		}
		public function get_cart() {
			return $this->cart_contents;
		}
		public function empty_cart() {
			$this->cart_contents = array();
		}
	}

	/** As wc_get_formatted_cart_item_data(): the rows shown under a cart item. */
	function wc_get_item_data_rows( $cart_item ) {
		return apply_filters( 'woocommerce_get_item_data', array(), $cart_item );
	}

	class WC_Checkout {
		/** As WC_Checkout::create_order_line_items(). */
		public function create_order_line_items( $order, $cart ) {
			foreach ( $cart->get_cart() as $cart_item_key => $values ) {
				$item             = new WC_Order_Item_Product();
				$item->product_id = $values['product_id'];
				$item->quantity   = $values['quantity'];
				do_action( 'woocommerce_checkout_create_order_line_item', $item, $cart_item_key, $values, $order );
				$order->add_item( $item );
			}
		}
	}

	/** As the Store API's CartAddItem route + CartController::add_to_cart (hook order and arguments). */
	function wcdouble_store_api_add_item( WP_REST_Request $request ) {
		$add_to_cart_data = apply_filters(
			'woocommerce_store_api_add_to_cart_data',
			array(
				'id'             => $request['id'],
				'quantity'       => $request['quantity'] ? $request['quantity'] : 1,
				'variation'      => $request['variation'] ? $request['variation'] : array(),
				'cart_item_data' => array(),
			),
			$request
		);
		$product = wc_get_product( $add_to_cart_data['id'] );
		do_action( 'woocommerce_store_api_validate_add_to_cart', $product, $add_to_cart_data );
		return WC()->cart->add_to_cart( $add_to_cart_data['id'], $add_to_cart_data['quantity'], 0, $add_to_cart_data['variation'], $add_to_cart_data['cart_item_data'] );
	}

	class WC_Webhook {
		const OPTION = 'wcdouble_webhooks';
		private $id   = 0;
		private $data = array(
			'name'          => '',
			'status'        => 'disabled',
			'topic'         => '',
			'delivery_url'  => '',
			'secret'        => '',
			'api_version'   => 'wp_api_v3',
			'user_id'       => 0,
			'failure_count' => 0,
		);
		public function __construct( $id = 0 ) {
			$all = get_option( self::OPTION, array() );
			if ( $id && isset( $all[ $id ] ) ) {
				$this->id   = (int) $id;
				$this->data = $all[ $id ];
			}
		}
		public static function all() {
			return get_option( self::OPTION, array() );
		}
		public function get_id() {
			return $this->id;
		}
		public function __call( $name, $args ) {
			$field = substr( $name, 4 );
			if ( 0 === strpos( $name, 'set_' ) && array_key_exists( $field, $this->data ) ) {
				$this->data[ $field ] = $args[0];
				return null;
			}
			if ( 0 === strpos( $name, 'get_' ) && array_key_exists( $field, $this->data ) ) {
				return $this->data[ $field ];
			}
			throw new BadMethodCallException( $name );
		}
		public function set_api_version( $version ) {
			if ( ! in_array( $version, array( 'legacy_v3', 'wp_api_v1', 'wp_api_v2', 'wp_api_v3' ), true ) ) {
				throw new InvalidArgumentException( 'bad api version' );
			}
			$this->data['api_version'] = $version;
		}
		public function save() {
			$all = get_option( self::OPTION, array() );
			if ( ! $this->id ) {
				$this->id = $all ? max( array_keys( $all ) ) + 1 : 1;
			}
			$all[ $this->id ] = $this->data;
			update_option( self::OPTION, $all );
			return $this->id;
		}
		public function delete( $force = false ) {
			$all = get_option( self::OPTION, array() );
			unset( $all[ $this->id ] );
			update_option( self::OPTION, $all );
			$this->id = 0;
			return true;
		}
		/** As WC_Webhook::failed_delivery(): disabled after more than 5 consecutive failures. */
		public function failed_delivery() {
			$failures = $this->data['failure_count'];
			if ( $failures > apply_filters( 'woocommerce_max_webhook_delivery_failures', 5 ) ) {
				$this->data['status'] = 'disabled';
				do_action( 'woocommerce_webhook_disabled_due_delivery_failures', $this->get_id() );
			} else {
				$this->data['failure_count'] = ++$failures;
			}
			$this->save();
		}
	}

	class WC_Admin_Settings {
		public static $errors   = array();
		public static $messages = array();
		public static function add_error( $text ) {
			self::$errors[] = $text;
		}
		public static function add_message( $text ) {
			self::$messages[] = $text;
		}
	}
}
