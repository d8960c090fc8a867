<?php
/**
 * Product page: the provider's editor and the hidden design id field.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Puts a Personalise button, a hidden design id field and the provider's editor on the
 * product page of a personalised product. Key2print work sessions are started server-side.
 */
final class PrintBridge_Product_Page {

	/** AJAX action starting a Key2print work session. */
	const AJAX_K2P_SESSION = 'printbridge_k2p_session';
	/** Cookie holding a guest's stable Key2print key. */
	const GUEST_COOKIE = 'printbridge_guest';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'wp_enqueue_scripts', array( __CLASS__, 'enqueue' ) );
		add_filter( 'script_loader_tag', array( __CLASS__, 'async_provider_script' ), 10, 2 );
		add_action( 'woocommerce_before_add_to_cart_button', array( __CLASS__, 'render_fields' ) );
		add_action( 'wp_ajax_' . self::AJAX_K2P_SESSION, array( __CLASS__, 'ajax_k2p_session' ) );
		add_action( 'wp_ajax_nopriv_' . self::AJAX_K2P_SESSION, array( __CLASS__, 'ajax_k2p_session' ) );
	}

	/**
	 * Enqueues the editor scripts on a personalised product's page.
	 *
	 * @return void
	 */
	public static function enqueue() {
		if ( ! function_exists( 'is_product' ) || ! is_product() ) {
			return;
		}
		$product = wc_get_product( get_queried_object_id() );
		if ( $product ) {
			self::enqueue_for( $product );
		}
	}

	/**
	 * Enqueues the scripts for one product.
	 *
	 * @param WC_Product $product Product.
	 * @return bool Whether anything was enqueued.
	 */
	public static function enqueue_for( $product ) {
		$config = self::config( $product );
		if ( null === $config ) {
			return false;
		}
		$deps   = array();
		$handle = self::provider_script_handle( $config['provider'] );
		$url    = self::provider_script_url( $config['provider'] );
		if ( '' !== $url ) {
			wp_register_script( $handle, $url, array(), null, true ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion -- third-party URL.
			// Printed just before the provider's script: records whether it loaded or failed
			// (load and error events of script elements do not bubble, so the listeners capture
			// them on the document).
			wp_add_inline_script(
				$handle,
				sprintf(
					'window.printbridgeScriptState="loading";["load","error"].forEach(function(t){document.addEventListener(t,function(e){if(e.target&&e.target.id===%s){window.printbridgeScriptState=t==="load"?"loaded":"failed";}},true);});',
					wp_json_encode( $handle . '-js' )
				),
				'before'
			);
			$deps[] = $handle;
		}
		wp_enqueue_style( 'printbridge-product', plugins_url( 'assets/css/printbridge.css', PRINTBRIDGE_FILE ), array(), PRINTBRIDGE_VERSION );
		wp_enqueue_script( 'printbridge-product', plugins_url( 'assets/js/printbridge-product.js', PRINTBRIDGE_FILE ), $deps, PRINTBRIDGE_VERSION, true );
		wp_localize_script( 'printbridge-product', 'printbridgeProduct', $config );
		return true;
	}

	/**
	 * Loads the provider's script asynchronously: a provider host that is slow or down never
	 * holds up the page, and the product script waits for it with a deadline.
	 *
	 * @param string $tag    Script tag(s) of a handle.
	 * @param string $handle Script handle.
	 * @return string
	 */
	public static function async_provider_script( $tag, $handle ) {
		if ( ! in_array( $handle, array( 'printbridge-spiff-api', 'printbridge-k2p-wrapper' ), true ) || ! is_string( $tag ) ) {
			return $tag;
		}
		$id = preg_quote( $handle . '-js', '/' );
		return (string) preg_replace( '/<script(?=[^>]*\\sid=(["\'])' . $id . '\\1)(?![^>]*\\sasync)/', '<script async', $tag, 1 );
	}

	/**
	 * Script handle of a provider's editor script.
	 *
	 * @param string $provider Provider.
	 * @return string
	 */
	public static function provider_script_handle( $provider ) {
		return PrintBridge_Design_Id::PROVIDER_SPIFF === $provider ? 'printbridge-spiff-api' : 'printbridge-k2p-wrapper';
	}

	/**
	 * URL of a provider's editor script, or '' when none is configured.
	 *
	 * @param string $provider Provider.
	 * @return string
	 */
	public static function provider_script_url( $provider ) {
		return PrintBridge_Design_Id::PROVIDER_SPIFF === $provider ? PrintBridge_Settings::spiff_api_js_url() : PrintBridge_Settings::get( 'k2p_wrapper_url' );
	}

	/**
	 * How long the product page waits for the editor to load or answer before telling the
	 * customer it cannot open, in milliseconds.
	 *
	 * @return int
	 */
	public static function editor_timeout_ms() {
		/**
		 * Filters how long (ms) the product page waits for a provider's editor script, its
		 * readiness answer and the editor session before giving up with a message.
		 *
		 * @param int $ms Milliseconds (1000 to 120000).
		 */
		$ms = (int) apply_filters( 'printbridge_editor_timeout_ms', 15000 );
		return max( 1000, min( 120000, $ms ) );
	}

	/**
	 * The browser configuration of a personalised product, or null when it is not personalised.
	 * Holds no token or secret.
	 *
	 * @param WC_Product $product Product.
	 * @return array|null
	 */
	public static function config( $product ) {
		$settings = PrintBridge_Product_Settings::get( $product );
		$provider = $settings['provider'];
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider ) {
			return null;
		}
		$config = array(
			'provider'  => $provider,
			'productId' => (int) $product->get_id(),
			'fieldName' => PrintBridge_Design_Id::FIELD,
			'i18n'      => array(
				'open'       => __( 'Opening the editor...', 'printbridge' ),
				'failed'     => __( 'The editor could not be opened. Please try again.', 'printbridge' ),
				'invalid'    => __( 'This product cannot be personalised right now.', 'printbridge' ),
				'badDesign'  => __( 'The editor returned no usable design. Please try again.', 'printbridge' ),
				'addingCart' => __( 'Design saved - adding to cart...', 'printbridge' ),
				'noEditor'   => __( 'Personalisation is not available for this product right now, so it cannot be added to the cart. Please try again later or contact the shop.', 'printbridge' ),
			),
			'editor'    => array(
				'scriptId'   => self::provider_script_handle( $provider ) . '-js',
				'configured' => '' !== self::provider_script_url( $provider ),
				'timeoutMs'  => self::editor_timeout_ms(),
			),
		);
		if ( PrintBridge_Design_Id::PROVIDER_SPIFF === $provider ) {
			$config['spiff'] = array(
				'integrationProductId' => $settings['spiff_integration_product_id'],
				'currency'             => function_exists( 'get_woocommerce_currency' ) ? get_woocommerce_currency() : 'USD',
			);
		} else {
			$config['key2print'] = array(
				'ajaxUrl'     => admin_url( 'admin-ajax.php' ),
				'action'      => self::AJAX_K2P_SESSION,
				'nonce'       => wp_create_nonce( self::AJAX_K2P_SESSION ),
				'containerId' => 'printbridge-k2p-editor',
				'width'       => PrintBridge_Settings::get( 'k2p_editor_width' ),
				'height'      => PrintBridge_Settings::get( 'k2p_editor_height' ),
				'gateway'     => $settings['k2p_gateway'],
			);
		}
		return $config;
	}

	/**
	 * Inside the add-to-cart form: the hidden design id field, its nonce, the Personalise button
	 * and (Key2print) the editor container.
	 *
	 * @param WC_Product|null $product Product (defaults to the global product).
	 * @return void
	 */
	public static function render_fields( $product = null ) {
		if ( ! is_object( $product ) ) {
			$product = isset( $GLOBALS['product'] ) ? $GLOBALS['product'] : null;
		}
		if ( ! is_object( $product ) ) {
			return;
		}
		$provider = PrintBridge_Product_Settings::provider( $product );
		if ( PrintBridge_Design_Id::PROVIDER_NONE === $provider ) {
			return;
		}
		wp_nonce_field( PrintBridge_Cart::nonce_action( $product->get_id() ), PrintBridge_Cart::NONCE_FIELD, false );
		printf(
			'<input type="hidden" id="printbridge-design-id" name="%1$s" value="" />',
			esc_attr( PrintBridge_Design_Id::FIELD )
		);
		printf(
			'<button type="button" id="printbridge-personalise" class="%1$s" data-provider="%2$s">%3$s</button>',
			esc_attr( self::button_class() ),
			esc_attr( $provider ),
			esc_html__( 'Personalise', 'printbridge' )
		);
		echo '<p id="printbridge-status" class="printbridge-status" role="status" aria-live="polite"></p>';
		if ( PrintBridge_Design_Id::PROVIDER_KEY2PRINT === $provider ) {
			echo '<div id="printbridge-k2p-editor" class="printbridge-k2p-editor" hidden></div>';
		}
	}

	/**
	 * Classes of the Personalise button: WooCommerce's own button classes, with the theme's
	 * element class (`wp-element-button` in block themes) as WooCommerce adds it.
	 *
	 * @return string
	 */
	public static function button_class() {
		$classes = array( 'button', 'alt' );
		$theme   = function_exists( 'wc_wp_theme_get_element_class_name' ) ? wc_wp_theme_get_element_class_name( 'button' ) : '';
		if ( is_string( $theme ) && '' !== $theme ) {
			$classes[] = $theme;
		}
		$classes[] = 'printbridge-personalise';
		return implode( ' ', $classes );
	}

	/**
	 * The body of `POST .../key2print/sessions` for a product and customer.
	 *
	 * @param WC_Product   $product    Product.
	 * @param WP_User|null $user       Logged-in customer, or null for a guest.
	 * @param string       $guest_key  Stable key of a guest.
	 * @param string|null  $project_id Project to edit, or null for a new one.
	 * @return array
	 */
	public static function key2print_session_request( $product, $user, $guest_key, $project_id = null ) {
		$settings = PrintBridge_Product_Settings::get( $product );
		$customer = array(
			'id'         => null,
			'email'      => '',
			'first_name' => '',
			'last_name'  => '',
			'guest_key'  => (string) $guest_key,
		);
		if ( $user instanceof WP_User && $user->ID ) {
			$customer['id']         = (int) $user->ID;
			$customer['email']      = (string) $user->user_email;
			$customer['first_name'] = (string) $user->first_name;
			$customer['last_name']  = (string) $user->last_name;
		}
		$placeholders = array();
		if ( '' !== $customer['first_name'] || '' !== $customer['last_name'] ) {
			$placeholders['customer_name'] = array( 'value' => trim( $customer['first_name'] . ' ' . $customer['last_name'] ) );
		}
		/**
		 * Filters the Key2print placeholder values of a work session.
		 *
		 * @param array        $placeholders placeholderSystemName => array( 'value' => string ).
		 * @param WC_Product   $product      Product.
		 * @param WP_User|null $user         Customer, or null for a guest.
		 */
		$placeholders = apply_filters( 'printbridge_key2print_placeholder_values', $placeholders, $product, $user );
		return array(
			'mode'               => 'user',
			'customer'           => $customer,
			'product_id'         => (int) $product->get_id(),
			'project_id'         => ( null !== $project_id && PrintBridge_Design_Id::is_valid( PrintBridge_Design_Id::PROVIDER_KEY2PRINT, $project_id ) ) ? $project_id : null,
			'template_id'        => $settings['k2p_template_id'],
			'editor'             => array(
				'colors'      => (object) $settings['k2p_colors'],
				'hidden_tabs' => $settings['k2p_hidden_tabs'],
			),
			'gateway'            => $settings['k2p_gateway'],
			'placeholder_values' => (object) ( is_array( $placeholders ) ? $placeholders : array() ),
		);
	}

	/**
	 * Starts a Key2print work session for the current visitor.
	 *
	 * @param int $product_id Product id.
	 * @return array{token:string,expires_at:string}|WP_Error
	 */
	public static function start_key2print_session( $product_id ) {
		$product = wc_get_product( (int) $product_id );
		if ( ! $product || PrintBridge_Design_Id::PROVIDER_KEY2PRINT !== PrintBridge_Product_Settings::provider( $product ) ) {
			return new WP_Error( 'printbridge_not_key2print', __( 'This product is not personalised with Key2print.', 'printbridge' ), array( 'status' => 400 ) );
		}
		$user   = is_user_logged_in() ? wp_get_current_user() : null;
		$body   = self::key2print_session_request( $product, $user, $user ? '' : self::guest_key() );
		$result = PrintBridge_Bridge_Client::from_settings()->key2print_session( $body );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		if ( empty( $result['token'] ) || ! is_string( $result['token'] ) ) {
			return new WP_Error( 'printbridge_bad_response', __( 'The bridge returned no editor session.', 'printbridge' ), array( 'status' => 502 ) );
		}
		return array(
			'token'      => $result['token'],
			'expires_at' => isset( $result['expires_at'] ) && is_string( $result['expires_at'] ) ? $result['expires_at'] : '',
		);
	}

	/**
	 * A guest's stable key (a random UUID kept in a cookie).
	 *
	 * @return string
	 */
	public static function guest_key() {
		$key = isset( $_COOKIE[ self::GUEST_COOKIE ] ) ? sanitize_text_field( wp_unslash( $_COOKIE[ self::GUEST_COOKIE ] ) ) : '';
		if ( 1 !== preg_match( '/^[0-9a-f-]{36}$/D', $key ) ) {
			$key = wp_generate_uuid4();
			if ( ! headers_sent() ) {
				setcookie( self::GUEST_COOKIE, $key, time() + YEAR_IN_SECONDS, COOKIEPATH ? COOKIEPATH : '/', COOKIE_DOMAIN, is_ssl(), true );
			}
		}
		return $key;
	}

	/**
	 * AJAX: starts a Key2print work session; answers only the session token and its expiry.
	 *
	 * @return void
	 */
	public static function ajax_k2p_session() {
		if ( ! check_ajax_referer( self::AJAX_K2P_SESSION, 'nonce', false ) ) {
			wp_send_json_error( array( 'message' => __( 'Your page has expired. Please reload it.', 'printbridge' ) ), 403 );
		}
		$product_id = isset( $_POST['product_id'] ) ? absint( wp_unslash( $_POST['product_id'] ) ) : 0;
		$result     = self::start_key2print_session( $product_id );
		if ( is_wp_error( $result ) ) {
			$data = $result->get_error_data();
			wp_send_json_error( array( 'message' => __( 'The editor could not be opened. Please try again.', 'printbridge' ) ), is_array( $data ) && isset( $data['status'] ) && 400 === $data['status'] ? 400 : 502 );
		}
		wp_send_json_success( $result );
	}
}
