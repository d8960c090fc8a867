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
	/** WooCommerce session key holding a guest's stable Key2print key. */
	const GUEST_SESSION_KEY = 'printbridge_guest_key';
	/** Prefix of the transients counting a visitor's Key2print sessions. */
	const RATE_PREFIX = 'printbridge_k2p_rl_';

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
	 * Holds no bridge token or secret; Spiff's application key is one Spiff issues for code
	 * running in browsers, and its editor needs it.
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
			$spiff           = PrintBridge_Settings::spiff();
			$config['spiff'] = array(
				'integrationProductId' => $settings['spiff_integration_product_id'],
				'currency'             => function_exists( 'get_woocommerce_currency' ) ? get_woocommerce_currency() : 'USD',
				'region'               => $spiff['region'],
				'applicationKey'       => $spiff['application_key'],
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
			) + PrintBridge_Cart_Reopen::page_config( $product );
		}
		return $config;
	}

	/**
	 * Inside the add-to-cart form: the hidden design id field, its nonce, the Personalise button
	 * and (Key2print) the editor container, with the hidden setup field when the editor prices
	 * the product.
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
		if ( PrintBridge_Cart_Price::applies( $product->get_id() ) ) {
			// The editor's last full setup (product and price-tree options), priced by the cart.
			printf(
				'<input type="hidden" id="printbridge-k2p-setup" name="%1$s" value="" />',
				esc_attr( PrintBridge_Cart_Price::FIELD )
			);
		}
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
		$fields = self::customer_fields( $customer );
		foreach ( $settings['k2p_placeholders'] as $name => $source ) {
			if ( isset( $fields[ $source ] ) && '' !== $fields[ $source ] ) {
				$placeholders[ $name ] = array( 'value' => $fields[ $source ] );
			}
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
	 * The customer's fields a placeholder can be filled with (see
	 * PrintBridge_Product_Settings::placeholder_sources()): the account's, completed by the
	 * billing details WooCommerce keeps for the visitor.
	 *
	 * @param array $customer The session request's customer.
	 * @return array<string,string>
	 */
	private static function customer_fields( array $customer ) {
		$wc      = function_exists( 'WC' ) && is_object( WC()->customer ) ? WC()->customer : null;
		$billing = static function ( $getter ) use ( $wc ) {
			return $wc && is_callable( array( $wc, $getter ) ) ? (string) $wc->$getter() : '';
		};
		$first   = '' !== $customer['first_name'] ? $customer['first_name'] : $billing( 'get_billing_first_name' );
		$last    = '' !== $customer['last_name'] ? $customer['last_name'] : $billing( 'get_billing_last_name' );
		return array(
			'name'       => trim( $first . ' ' . $last ),
			'first_name' => $first,
			'last_name'  => $last,
			'email'      => '' !== $customer['email'] ? $customer['email'] : $billing( 'get_billing_email' ),
			'phone'      => $billing( 'get_billing_phone' ),
			'company'    => $billing( 'get_billing_company' ),
		);
	}

	/**
	 * Starts a Key2print work session for the current visitor, within the visitor's session
	 * limits (see session_limits()).
	 *
	 * @param int    $product_id    Product id.
	 * @param string $cart_item_key A line of the visitor's cart whose design to edit, or ''.
	 * @return array{token:string,expires_at:string}|WP_Error WP_Error code `printbridge_rate_limited`
	 *         (data: status 429, retry_after seconds) when the visitor or the store has started
	 *         too many sessions.
	 */
	public static function start_key2print_session( $product_id, $cart_item_key = '' ) {
		$product = wc_get_product( (int) $product_id );
		if ( ! $product || PrintBridge_Design_Id::PROVIDER_KEY2PRINT !== PrintBridge_Product_Settings::provider( $product ) ) {
			return new WP_Error( 'printbridge_not_key2print', __( 'This product is not personalised with Key2print.', 'printbridge' ), array( 'status' => 400 ) );
		}
		$project_id = null;
		if ( '' !== $cart_item_key ) {
			$project_id = PrintBridge_Cart_Reopen::project_of( $cart_item_key, (int) $product_id );
			if ( null === $project_id ) {
				return new WP_Error( 'printbridge_not_in_cart', __( 'This design is not in your cart.', 'printbridge' ), array( 'status' => 403 ) );
			}
		}
		$user      = is_user_logged_in() ? wp_get_current_user() : null;
		$guest_key = $user ? '' : self::known_guest_key();
		$wait      = self::take_session_slot( self::client_id( $user ), ! $user && '' === $guest_key );
		if ( $wait > 0 ) {
			return new WP_Error(
				'printbridge_rate_limited',
				__( 'Too many editor sessions from this visitor.', 'printbridge' ),
				array(
					'status'      => 429,
					'retry_after' => $wait,
				)
			);
		}
		if ( ! $user && '' === $guest_key ) {
			$guest_key = self::new_guest_key();
		}
		$body   = self::key2print_session_request( $product, $user, $guest_key, $project_id );
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
	 * How many Key2print sessions one visitor may start: per minute, per hour, and (guests)
	 * how many new guest keys, each of which makes the bridge create a Key2print user, per hour.
	 * 0 turns a limit off.
	 *
	 * @return array{per_minute:int,per_hour:int,new_guests_per_hour:int}
	 */
	public static function session_limits() {
		$defaults = array(
			'per_minute'          => 5,
			'per_hour'            => 30,
			'new_guests_per_hour' => 5,
		);
		/**
		 * Filters how many Key2print editor sessions one visitor (a logged-in customer, or a
		 * guest's IP address) may start. 0 turns a limit off.
		 *
		 * @param array $limits per_minute, per_hour, new_guests_per_hour.
		 */
		$limits = apply_filters( 'printbridge_key2print_session_limits', $defaults );
		$out    = array();
		foreach ( $defaults as $name => $default ) {
			$out[ $name ] = is_array( $limits ) && isset( $limits[ $name ] ) && is_numeric( $limits[ $name ] ) ? max( 0, (int) $limits[ $name ] ) : $default;
		}
		return $out;
	}

	/**
	 * The visitor the session limits count for: a logged-in customer by id, a guest by IP
	 * address (an IPv6 address by its /64 network, which one client usually holds whole).
	 *
	 * @param WP_User|null $user Logged-in customer, or null for a guest.
	 * @return string
	 */
	public static function client_id( $user ) {
		if ( $user instanceof WP_User && $user->ID ) {
			return 'user:' . (int) $user->ID;
		}
		$ip = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		/**
		 * Filters a guest's IP address for the Key2print session limits (behind a trusted
		 * reverse proxy, return the client address it forwards).
		 *
		 * @param string $ip REMOTE_ADDR.
		 */
		$ip = (string) apply_filters( 'printbridge_client_ip', $ip );
		if ( false !== filter_var( $ip, FILTER_VALIDATE_IP, FILTER_FLAG_IPV6 ) ) {
			$packed = inet_pton( $ip );
			$ip     = false !== $packed ? inet_ntop( substr( $packed, 0, 8 ) . str_repeat( "\0", 8 ) ) . '/64' : $ip;
		} elseif ( false === filter_var( $ip, FILTER_VALIDATE_IP ) ) {
			$ip = 'unknown';
		}
		return 'ip:' . $ip;
	}

	/**
	 * Counts one session for a visitor in each limit window (fixed minute and hour windows kept
	 * as transients that expire with their window), unless a window is full.
	 *
	 * @param string $client    Visitor (client_id()).
	 * @param bool   $new_guest Whether the session needs a new guest key (a new Key2print user).
	 * @return int 0 when the session may start, else seconds until it may.
	 */
	public static function take_session_slot( $client, $new_guest ) {
		$limits  = self::session_limits();
		$windows = array(
			'minute' => array( MINUTE_IN_SECONDS, $limits['per_minute'] ),
			'hour'   => array( HOUR_IN_SECONDS, $limits['per_hour'] ),
		);
		if ( $new_guest ) {
			$windows['new_guest'] = array( HOUR_IN_SECONDS, $limits['new_guests_per_hour'] );
		}
		/**
		 * Filters the Unix time the session limits count with (their windows are fixed
		 * minutes and hours of this clock).
		 *
		 * @param int $now time().
		 */
		$now    = (int) apply_filters( 'printbridge_key2print_session_limit_time', time() );
		$wait   = 0;
		$counts = array();
		foreach ( $windows as $name => $window ) {
			list( $length, $limit ) = $window;
			if ( $limit <= 0 ) {
				continue;
			}
			$start           = $now - ( $now % $length );
			$key             = self::RATE_PREFIX . md5( $name . '|' . $client . '|' . $start );
			$count           = (int) get_transient( $key );
			$counts[ $key ]  = array( $count, $start + $length - $now );
			if ( $count >= $limit ) {
				$wait = max( $wait, $start + $length - $now );
			}
		}
		if ( $wait > 0 ) {
			return $wait;
		}
		foreach ( $counts as $key => $entry ) {
			set_transient( $key, $entry[0] + 1, $entry[1] + 1 );
		}
		return 0;
	}

	/**
	 * The guest's key when the shop already knows it: from the guest cookie, else from the
	 * WooCommerce session (so a guest whose browser drops the cookie keeps one Key2print user
	 * while the WooCommerce session lasts). '' when there is none.
	 *
	 * @return string
	 */
	public static function known_guest_key() {
		$key = isset( $_COOKIE[ self::GUEST_COOKIE ] ) ? sanitize_text_field( wp_unslash( $_COOKIE[ self::GUEST_COOKIE ] ) ) : '';
		if ( ! self::is_guest_key( $key ) && function_exists( 'WC' ) && WC()->session ) {
			$key = (string) WC()->session->get( self::GUEST_SESSION_KEY, '' );
		}
		if ( ! self::is_guest_key( $key ) ) {
			return '';
		}
		self::remember_guest_key( $key );
		return $key;
	}

	/**
	 * A new guest key, remembered in the WooCommerce session and the guest cookie.
	 *
	 * @return string
	 */
	public static function new_guest_key() {
		$key = wp_generate_uuid4();
		self::remember_guest_key( $key );
		if ( ! headers_sent() ) {
			setcookie( self::GUEST_COOKIE, $key, time() + YEAR_IN_SECONDS, COOKIEPATH ? COOKIEPATH : '/', COOKIE_DOMAIN, is_ssl(), true );
		}
		return $key;
	}

	/**
	 * A guest's stable key: the known one, else a new one.
	 *
	 * @return string
	 */
	public static function guest_key() {
		$key = self::known_guest_key();
		return '' !== $key ? $key : self::new_guest_key();
	}

	/**
	 * Whether a string is a guest key (a UUID).
	 *
	 * @param string $key Candidate.
	 * @return bool
	 */
	private static function is_guest_key( $key ) {
		return is_string( $key ) && 1 === preg_match( '/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/D', $key );
	}

	/**
	 * Keeps a guest key in the WooCommerce session (started for the guest when it has none).
	 *
	 * @param string $key Guest key.
	 * @return void
	 */
	private static function remember_guest_key( $key ) {
		if ( ! function_exists( 'WC' ) || ! WC()->session ) {
			return;
		}
		if ( ! WC()->session->has_session() && method_exists( WC()->session, 'set_customer_session_cookie' ) ) {
			WC()->session->set_customer_session_cookie( true );
		}
		WC()->session->set( self::GUEST_SESSION_KEY, $key );
	}

	/**
	 * AJAX: starts a Key2print work session; answers only the session token and its expiry.
	 * Too many sessions (the visitor's limits or the bridge's per-store limit) answer 429 with
	 * Retry-After and a plain message.
	 *
	 * @return void
	 */
	public static function ajax_k2p_session() {
		if ( ! check_ajax_referer( self::AJAX_K2P_SESSION, 'nonce', false ) ) {
			wp_send_json_error( array( 'message' => __( 'Your page has expired. Please reload it.', 'printbridge' ) ), 403 );
		}
		$product_id = isset( $_POST['product_id'] ) ? absint( wp_unslash( $_POST['product_id'] ) ) : 0;
		$cart_item  = isset( $_POST['cart_item'] ) ? sanitize_key( wp_unslash( $_POST['cart_item'] ) ) : '';
		$result     = self::start_key2print_session( $product_id, $cart_item );
		if ( is_wp_error( $result ) ) {
			$data   = $result->get_error_data();
			$status = is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 0;
			if ( 429 === $status ) {
				$wait = isset( $data['retry_after'] ) ? max( 1, min( HOUR_IN_SECONDS, (int) $data['retry_after'] ) ) : MINUTE_IN_SECONDS;
				if ( ! headers_sent() ) {
					header( 'Retry-After: ' . $wait );
				}
				wp_send_json_error(
					array(
						'message'     => self::busy_message( $wait ),
						'retry_after' => $wait,
					),
					429
				);
			}
			if ( 403 === $status ) {
				wp_send_json_error( array( 'message' => $result->get_error_message() ), 403 );
			}
			wp_send_json_error( array( 'message' => __( 'The editor could not be opened. Please try again.', 'printbridge' ) ), 400 === $status ? 400 : 502 );
		}
		wp_send_json_success( $result );
	}

	/**
	 * The customer's message when no editor session can start for a while.
	 *
	 * @param int $wait Seconds until one may.
	 * @return string
	 */
	public static function busy_message( $wait ) {
		if ( $wait <= MINUTE_IN_SECONDS ) {
			return __( 'The editor is busy right now. Please wait a minute and try again.', 'printbridge' );
		}
		$minutes = (int) ceil( $wait / MINUTE_IN_SECONDS );
		return sprintf(
			/* translators: %d: number of minutes */
			_n( 'The editor is busy right now. Please try again in %d minute.', 'The editor is busy right now. Please try again in %d minutes.', $minutes, 'printbridge' ),
			$minutes
		);
	}
}
