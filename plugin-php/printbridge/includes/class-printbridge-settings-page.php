<?php
/**
 * The PrintBridge tab of the WooCommerce settings.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Settings: bridge URL, store id, store token, webhook secret (or a connection key holding
 * them), script URLs, and a "Test connection" button. The token and the secret are never
 * printed into the page: their inputs stay empty and an empty input keeps the saved value.
 */
final class PrintBridge_Settings_Page {

	/** Tab id. */
	const TAB = 'printbridge';
	/** AJAX action of "Test connection". */
	const AJAX_TEST = 'printbridge_test_connection';
	/** Nonce action of the form. */
	const NONCE = 'printbridge_settings';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_filter( 'woocommerce_settings_tabs_array', array( __CLASS__, 'add_tab' ), 50 );
		add_action( 'woocommerce_settings_tabs_' . self::TAB, array( __CLASS__, 'render' ) );
		add_action( 'woocommerce_update_options_' . self::TAB, array( __CLASS__, 'save_from_request' ) );
		add_action( 'wp_ajax_' . self::AJAX_TEST, array( __CLASS__, 'ajax_test_connection' ) );
		add_action( 'admin_enqueue_scripts', array( __CLASS__, 'enqueue' ) );
		add_action( 'admin_notices', array( __CLASS__, 'editor_scripts_notice' ) );
	}

	/**
	 * Adds the tab.
	 *
	 * @param array $tabs Tabs.
	 * @return array
	 */
	public static function add_tab( $tabs ) {
		$tabs[ self::TAB ] = __( 'PrintBridge', 'printbridge' );
		return $tabs;
	}

	/**
	 * Registers the admin script (idempotent; the order screen needs it before admin_enqueue_scripts).
	 *
	 * @return void
	 */
	public static function register_admin_script() {
		if ( wp_script_is( 'printbridge-admin', 'registered' ) ) {
			return;
		}
		wp_register_script( 'printbridge-admin', plugins_url( 'assets/js/printbridge-admin.js', PRINTBRIDGE_FILE ), array(), PRINTBRIDGE_VERSION, true );
		wp_localize_script(
			'printbridge-admin',
			'printbridgeAdmin',
			array(
				'ajaxUrl'     => admin_url( 'admin-ajax.php' ),
				'testNonce'   => wp_create_nonce( self::AJAX_TEST ),
				'retryNonce'  => wp_create_nonce( PrintBridge_Order_Admin::AJAX_RETRY ),
				'actionNonce' => wp_create_nonce( PrintBridge_Order_Actions::AJAX_ACTION ),
				'i18n'        => array(
					'testing'  => __( 'Testing...', 'printbridge' ),
					'retrying' => __( 'Asking the bridge to retry...', 'printbridge' ),
					'asking'   => __( 'Asking the bridge...', 'printbridge' ),
					'failed'   => __( 'The request failed.', 'printbridge' ),
				),
			)
		);
	}

	/**
	 * Enqueues the admin script on our settings tab.
	 *
	 * @return void
	 */
	public static function enqueue() {
		self::register_admin_script();
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only selects a screen.
		$tab = isset( $_GET['tab'] ) ? sanitize_key( wp_unslash( $_GET['tab'] ) ) : '';
		if ( self::TAB === $tab && current_user_can( 'manage_woocommerce' ) ) {
			wp_enqueue_script( 'printbridge-admin' );
		}
	}

	/**
	 * Renders the tab (inside WooCommerce's settings form).
	 *
	 * @return void
	 */
	public static function render() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			return;
		}
		$s = PrintBridge_Settings::all();
		wp_nonce_field( self::NONCE, 'printbridge_settings_nonce' );
		echo '<h2>' . esc_html__( 'PrintBridge connection', 'printbridge' ) . '</h2>';
		echo '<p>' . esc_html__( 'Paste the connection key printed by "printbridge connection-key --store STORE", or fill in the four fields. Saving creates or updates the order webhooks to the bridge.', 'printbridge' ) . '</p>';
		echo '<table class="form-table"><tbody>';
		self::row( 'printbridge_connection_key', __( 'Connection key', 'printbridge' ), '<textarea id="printbridge_connection_key" name="printbridge_connection_key" rows="3" cols="60" autocomplete="off" spellcheck="false" placeholder="pbk1_..."></textarea>' );
		self::row( 'printbridge_bridge_url', __( 'Bridge URL', 'printbridge' ), sprintf( '<input type="url" class="regular-text" id="printbridge_bridge_url" name="printbridge_bridge_url" value="%s" placeholder="https://bridge.example.com" />', esc_attr( $s['bridge_url'] ) ) );
		self::row( 'printbridge_store_id', __( 'Store id', 'printbridge' ), sprintf( '<input type="text" class="regular-text" id="printbridge_store_id" name="printbridge_store_id" value="%s" />', esc_attr( $s['store_id'] ) ) );
		self::row( 'printbridge_store_token', __( 'Store token', 'printbridge' ), self::secret_input( 'printbridge_store_token', '' !== $s['store_token'] ) );
		self::row( 'printbridge_webhook_secret', __( 'Webhook secret', 'printbridge' ), self::secret_input( 'printbridge_webhook_secret', '' !== $s['webhook_secret'] ) );
		$spiff = PrintBridge_Settings::spiff();
		self::row(
			'printbridge_spiff_api_js_url',
			__( 'Spiff api.js URL (optional)', 'printbridge' ),
			sprintf( '<input type="url" class="regular-text" id="printbridge_spiff_api_js_url" name="printbridge_spiff_api_js_url" value="%1$s" placeholder="%2$s" />', esc_attr( $s['spiff_api_js_url'] ), esc_attr( $spiff['api_js_url'] ) )
			. '<p class="description">' . esc_html(
				'' === $spiff['region']
					/* translators: shown under the Spiff script field before the bridge named a Spiff region */
					? __( 'The Spiff region comes from the bridge (spiff.region of the store); save the connection or click Test connection to learn it.', 'printbridge' )
					/* translators: %s: Spiff region (us, au or au-legacy) */
					: sprintf( __( 'Spiff region set on the bridge: %s. Leave this field empty unless the script must come from elsewhere.', 'printbridge' ), $spiff['region'] )
			) . '</p>'
		);
		self::row( 'printbridge_k2p_wrapper_url', __( 'Key2print editor wrapper URL', 'printbridge' ), sprintf( '<input type="url" class="regular-text" id="printbridge_k2p_wrapper_url" name="printbridge_k2p_wrapper_url" value="%s" placeholder="https://.../js/wrapper.js" />', esc_attr( $s['k2p_wrapper_url'] ) ) );
		self::row( 'printbridge_k2p_editor_width', __( 'Key2print editor width', 'printbridge' ), sprintf( '<input type="text" id="printbridge_k2p_editor_width" name="printbridge_k2p_editor_width" value="%s" />', esc_attr( $s['k2p_editor_width'] ) ) );
		self::row( 'printbridge_k2p_editor_height', __( 'Key2print editor height', 'printbridge' ), sprintf( '<input type="text" id="printbridge_k2p_editor_height" name="printbridge_k2p_editor_height" value="%s" />', esc_attr( $s['k2p_editor_height'] ) ) );
		echo '</tbody></table>';
		printf(
			'<p><button type="button" class="button" id="printbridge-test-connection">%1$s</button> <span id="printbridge-test-result" role="status" aria-live="polite"></span></p><p class="description">%2$s</p>',
			esc_html__( 'Test connection', 'printbridge' ),
			esc_html__( 'The test uses a connection key pasted above (or the connection fields as typed) before it is saved, else the saved settings.', 'printbridge' )
		);
		$ids = PrintBridge_Webhooks::ids();
		if ( $ids ) {
			echo '<p>' . esc_html(
				sprintf(
					/* translators: %s: comma-separated webhook ids */
					__( 'Webhooks managed by PrintBridge: %s', 'printbridge' ),
					implode( ', ', array_map( 'strval', $ids ) )
				)
			) . '</p>';
		}
	}

	/**
	 * One form row.
	 *
	 * @param string $id    Field id.
	 * @param string $label Label text.
	 * @param string $html  Field HTML (already escaped).
	 * @return void
	 */
	private static function row( $id, $label, $html ) {
		printf( '<tr><th scope="row"><label for="%1$s">%2$s</label></th><td>%3$s</td></tr>', esc_attr( $id ), esc_html( $label ), $html ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	}

	/**
	 * A password input that never carries the saved value.
	 *
	 * @param string $name  Field name.
	 * @param bool   $saved Whether a value is saved.
	 * @return string
	 */
	private static function secret_input( $name, $saved ) {
		return sprintf(
			'<input type="password" class="regular-text" id="%1$s" name="%1$s" value="" autocomplete="new-password" placeholder="%2$s" />',
			esc_attr( $name ),
			esc_attr( $saved ? __( 'saved - leave empty to keep', 'printbridge' ) : '' )
		);
	}

	/**
	 * Handles the WooCommerce settings save of our tab.
	 *
	 * @return void
	 */
	public static function save_from_request() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			return;
		}
		$nonce = isset( $_POST['printbridge_settings_nonce'] ) ? sanitize_text_field( wp_unslash( $_POST['printbridge_settings_nonce'] ) ) : '';
		if ( ! wp_verify_nonce( $nonce, self::NONCE ) ) {
			WC_Admin_Settings::add_error( __( 'PrintBridge settings were not saved: the form expired. Please try again.', 'printbridge' ) );
			return;
		}
		$result = self::save( wp_unslash( $_POST ), get_current_user_id() ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitised in save().
		foreach ( $result['errors'] as $error ) {
			WC_Admin_Settings::add_error( $error );
		}
		foreach ( $result['messages'] as $message ) {
			WC_Admin_Settings::add_message( $message );
		}
	}

	/**
	 * Saves submitted settings: a connection key fills the four connection fields; empty secret
	 * inputs keep the saved values; a complete connection creates or updates the webhooks.
	 *
	 * @param array $input   Unslashed form values.
	 * @param int   $user_id User the webhooks run as.
	 * @return array{errors:string[],messages:string[],webhooks:array}
	 */
	public static function save( array $input, $user_id ) {
		$errors   = array();
		$messages = array();
		$str      = static function ( $key ) use ( $input ) {
			return isset( $input[ $key ] ) && is_string( $input[ $key ] ) ? trim( $input[ $key ] ) : '';
		};
		$values   = array();

		$url = $str( 'printbridge_bridge_url' );
		if ( '' !== $url ) {
			$clean = PrintBridge_Settings::sanitize_bridge_url( $url );
			if ( '' === $clean ) {
				$errors[] = __( 'The bridge URL must be an http(s) URL without query string.', 'printbridge' );
			} else {
				$values['bridge_url'] = $clean;
			}
		} elseif ( array_key_exists( 'printbridge_bridge_url', $input ) ) {
			$values['bridge_url'] = '';
		}
		$store = $str( 'printbridge_store_id' );
		if ( '' !== $store && ! PrintBridge_Settings::is_valid_store_id( $store ) ) {
			$errors[] = __( 'The store id may only hold letters, digits, "-" and "_".', 'printbridge' );
		} elseif ( array_key_exists( 'printbridge_store_id', $input ) ) {
			$values['store_id'] = $store;
		}
		foreach ( array( 'store_token', 'webhook_secret' ) as $secret ) {
			$v = $str( 'printbridge_' . $secret );
			if ( '' === $v ) {
				continue; // Empty input keeps the saved value.
			}
			if ( PrintBridge_Settings::is_valid_secret( $v ) ) {
				$values[ $secret ] = $v;
			} else {
				$errors[] = __( 'The store token and the webhook secret may only hold printable characters without spaces.', 'printbridge' );
			}
		}
		foreach ( array( 'spiff_api_js_url', 'k2p_wrapper_url' ) as $field ) {
			if ( array_key_exists( 'printbridge_' . $field, $input ) ) {
				$raw              = $str( 'printbridge_' . $field );
				$values[ $field ] = '' === $raw ? '' : esc_url_raw( $raw, array( 'https', 'http' ) );
			}
		}
		foreach ( array( 'k2p_editor_width', 'k2p_editor_height' ) as $field ) {
			$v = $str( 'printbridge_' . $field );
			if ( '' !== $v ) {
				if ( 1 === preg_match( '/^\d{1,5}(\.\d+)?(px|%|em|rem|vh|vw)$/D', $v ) ) {
					$values[ $field ] = $v;
				} else {
					$errors[] = __( 'Editor width and height take a CSS length such as 100% or 800px.', 'printbridge' );
				}
			}
		}

		$key = $str( 'printbridge_connection_key' );
		if ( '' !== $key ) {
			$parsed = PrintBridge_Settings::parse_connection_key( $key );
			if ( is_wp_error( $parsed ) ) {
				$errors[] = $parsed->get_error_message();
			} else {
				$values   = array_merge( $values, $parsed );
				$messages[] = __( 'Connection key accepted.', 'printbridge' );
			}
		}

		PrintBridge_Settings::update( $values );

		$webhooks = array();
		if ( PrintBridge_Settings::is_connected() ) {
			$synced = PrintBridge_Webhooks::sync( $user_id );
			if ( is_wp_error( $synced ) ) {
				$errors[] = $synced->get_error_message();
			} else {
				$webhooks   = $synced;
				$messages[] = __( 'Order webhooks to the bridge are set up.', 'printbridge' );
			}
			PrintBridge_Settings::refresh_from_bridge();
		}
		return array(
			'errors'   => $errors,
			'messages' => $messages,
			'webhooks' => $webhooks,
		);
	}

	/**
	 * Calls the bridge's status endpoint and describes the outcome in plain words, followed by a
	 * line per editor script that is not configured or does not load.
	 *
	 * @param array $connection Connection values to test instead of the saved ones (bridge_url,
	 *                          store_id, store_token; from an unsaved connection key or fields).
	 * @return array{ok:bool,message:string}
	 */
	public static function test_connection( array $connection = array() ) {
		$s      = array_merge( PrintBridge_Settings::all(), array_intersect_key( $connection, array_flip( array( 'bridge_url', 'store_id', 'store_token' ) ) ) );
		$client = new PrintBridge_Bridge_Client( $s['bridge_url'], $s['store_id'], $s['store_token'] );
		$status = $client->status();
		if ( is_wp_error( $status ) ) {
			return array(
				'ok'      => false,
				'message' => implode( ' ', array_merge( array( self::sentence( $status->get_error_message() ) ), self::editor_script_problems( true ) ) ),
			);
		}
		$saved = PrintBridge_Settings::all();
		if ( $saved['bridge_url'] === $s['bridge_url'] && $saved['store_id'] === $s['store_id'] ) {
			// The saved connection's bridge decides which Spiff system the product pages load.
			PrintBridge_Settings::learn_from_status( $status );
		}
		$version   = isset( $status['version'] ) && is_scalar( $status['version'] ) ? (string) $status['version'] : '?';
		$store     = isset( $status['store'] ) && is_scalar( $status['store'] ) ? (string) $status['store'] : '?';
		$providers = isset( $status['providers'] ) && is_array( $status['providers'] ) ? array_map( array( 'PrintBridge_Design_Id', 'provider_label' ), array_filter( $status['providers'], 'is_string' ) ) : array();
		$parts     = array(
			/* translators: 1: bridge version, 2: store id */
			sprintf( __( 'Connected to PrintBridge %1$s as store "%2$s".', 'printbridge' ), $version, $store ),
			/* translators: %s: provider names */
			$providers ? sprintf( __( 'Providers: %s.', 'printbridge' ), implode( ', ', $providers ) ) : __( 'No provider is configured on the bridge for this store.', 'printbridge' ),
		);
		$expected = untrailingslashit( $s['bridge_url'] ) . '/v1/webhooks/woocommerce/' . rawurlencode( $s['store_id'] );
		if ( isset( $status['webhook_url'] ) && is_string( $status['webhook_url'] ) && untrailingslashit( $status['webhook_url'] ) !== $expected ) {
			/* translators: %s: webhook URL the bridge expects */
			$parts[] = sprintf( __( 'Warning: the bridge expects webhooks at %s - check the bridge URL.', 'printbridge' ), $status['webhook_url'] );
		}
		if ( isset( $status['spiff']['region'] ) && is_string( $status['spiff']['region'] ) ) {
			/* translators: %s: Spiff region (us, au or au-legacy) */
			$parts[] = sprintf( __( 'Spiff region: %s.', 'printbridge' ), $status['spiff']['region'] );
		}
		if ( array_key_exists( 'rest_keys', $status ) && false === $status['rest_keys'] ) {
			$parts[] = __( 'The bridge has no WooCommerce REST keys for this shop: order notes and reconciliation are off.', 'printbridge' );
		}
		$parts[] = isset( $status['last_delivery_at'] ) && is_string( $status['last_delivery_at'] )
			/* translators: %s: date and time */
			? sprintf( __( 'Last webhook delivery: %s.', 'printbridge' ), $status['last_delivery_at'] )
			: __( 'No webhook delivery has arrived yet.', 'printbridge' );
		$problems = self::editor_script_problems( true );
		return array(
			'ok'      => ! $problems,
			'message' => implode( ' ', array_merge( $parts, $problems ) ),
		);
	}

	/**
	 * A message as a sentence: with a full stop unless it ends in punctuation already.
	 *
	 * @param string $message Message.
	 * @return string
	 */
	private static function sentence( $message ) {
		$message = rtrim( (string) $message );
		return '' === $message || 1 === preg_match( '/[.!?:]$/u', $message ) ? $message : $message . '.';
	}

	/**
	 * Whether a published product is personalised with a provider.
	 *
	 * @param string $provider Provider id.
	 * @return bool
	 */
	private static function provider_in_use( $provider ) {
		$ids = get_posts(
			array(
				'post_type'        => 'product',
				'post_status'      => 'publish',
				'fields'           => 'ids',
				'posts_per_page'   => 1,
				'no_found_rows'    => true,
				'suppress_filters' => true,
				'meta_query'       => array( // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_query -- one indexed key, admin only.
					array(
						'key'   => PrintBridge_Product_Settings::META_PROVIDER,
						'value' => $provider,
					),
				),
			)
		);
		return ! empty( $ids );
	}

	/**
	 * Plain sentences about the editor scripts of the providers products use: the Key2print
	 * wrapper URL unset, or (with $fetch) a script URL that does not answer 200.
	 *
	 * @param bool $fetch Whether to request the configured script URLs.
	 * @return string[]
	 */
	public static function editor_script_problems( $fetch = false ) {
		$problems = array();
		$scripts  = array(
			PrintBridge_Design_Id::PROVIDER_SPIFF     => array( PrintBridge_Settings::spiff_api_js_url(), __( 'Spiff api.js URL', 'printbridge' ) ),
			PrintBridge_Design_Id::PROVIDER_KEY2PRINT => array( PrintBridge_Settings::get( 'k2p_wrapper_url' ), __( 'Key2print editor wrapper URL', 'printbridge' ) ),
		);
		foreach ( $scripts as $provider => $script ) {
			list( $url, $setting ) = $script;
			// Products are only looked up when there is something to report or to fetch.
			if ( ( '' !== $url && ! $fetch ) || ! self::provider_in_use( $provider ) ) {
				continue;
			}
			$label = PrintBridge_Design_Id::provider_label( $provider );
			if ( '' === $url && PrintBridge_Design_Id::PROVIDER_SPIFF === $provider ) {
				$problems[] = __( 'Spiff editor: the bridge has not named this store\'s Spiff region (the store needs a [stores.spiff] section on the bridge; then click Test connection), so customers cannot personalise the products that use Spiff.', 'printbridge' );
				continue;
			}
			if ( '' === $url ) {
				/* translators: 1: provider name, 2: setting name */
				$problems[] = sprintf( __( '%1$s editor: the %2$s is not set, so customers cannot personalise the products that use %1$s.', 'printbridge' ), $label, $setting );
				continue;
			}
			$response = wp_safe_remote_get(
				$url,
				array(
					'timeout'     => 5,
					'redirection' => 3,
				)
			);
			$code     = is_wp_error( $response ) ? 0 : (int) wp_remote_retrieve_response_code( $response );
			if ( 200 !== $code ) {
				$problems[] = sprintf(
					/* translators: 1: provider name, 2: script URL, 3: HTTP status or error message */
					__( '%1$s editor: its script %2$s does not load (%3$s), so customers cannot personalise the products that use %1$s.', 'printbridge' ),
					$label,
					$url,
					is_wp_error( $response ) ? $response->get_error_message() : 'HTTP ' . $code
				);
			}
		}
		return $problems;
	}

	/**
	 * Admin notice for shop managers when products use a provider whose editor script is not set.
	 *
	 * @return void
	 */
	public static function editor_scripts_notice() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			return;
		}
		$problems = self::editor_script_problems();
		if ( ! $problems ) {
			return;
		}
		$settings = admin_url( 'admin.php?page=wc-settings&tab=' . self::TAB );
		echo '<div class="notice notice-warning printbridge-editor-notice">';
		foreach ( $problems as $problem ) {
			/* translators: %s: what is wrong with an editor script */
			echo '<p>' . esc_html( sprintf( __( 'PrintBridge: %s', 'printbridge' ), $problem ) ) . '</p>';
		}
		echo '<p><a href="' . esc_url( $settings ) . '">' . esc_html__( 'Open the PrintBridge settings', 'printbridge' ) . '</a></p></div>';
	}

	/**
	 * Connection values typed in the settings form but not saved, from an AJAX request: a
	 * connection key, else the bridge URL / store id / store token fields that are filled in.
	 *
	 * @param array $input Unslashed request values.
	 * @return array|WP_Error
	 */
	public static function unsaved_connection( array $input ) {
		$str = static function ( $key ) use ( $input ) {
			return isset( $input[ $key ] ) && is_string( $input[ $key ] ) ? trim( $input[ $key ] ) : '';
		};
		$key = $str( 'connection_key' );
		if ( '' !== $key ) {
			return PrintBridge_Settings::parse_connection_key( $key );
		}
		$values = array();
		$url    = $str( 'bridge_url' );
		if ( '' !== $url ) {
			$values['bridge_url'] = PrintBridge_Settings::sanitize_bridge_url( $url );
			if ( '' === $values['bridge_url'] ) {
				return new WP_Error( 'printbridge_bridge_url', __( 'The bridge URL must be an http(s) URL without query string.', 'printbridge' ) );
			}
		}
		$store = $str( 'store_id' );
		if ( '' !== $store ) {
			if ( ! PrintBridge_Settings::is_valid_store_id( $store ) ) {
				return new WP_Error( 'printbridge_store_id', __( 'The store id may only hold letters, digits, "-" and "_".', 'printbridge' ) );
			}
			$values['store_id'] = $store;
		}
		$token = $str( 'store_token' );
		if ( '' !== $token ) {
			if ( ! PrintBridge_Settings::is_valid_secret( $token ) ) {
				return new WP_Error( 'printbridge_store_token', __( 'The store token and the webhook secret may only hold printable characters without spaces.', 'printbridge' ) );
			}
			$values['store_token'] = $token;
		}
		return $values;
	}

	/**
	 * AJAX "Test connection".
	 *
	 * @return void
	 */
	public static function ajax_test_connection() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to do this.', 'printbridge' ) ), 403 );
		}
		check_ajax_referer( self::AJAX_TEST, 'nonce' );
		$connection = self::unsaved_connection( wp_unslash( $_POST ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- validated field by field.
		if ( is_wp_error( $connection ) ) {
			wp_send_json_error(
				array(
					'ok'      => false,
					'message' => $connection->get_error_message(),
				)
			);
		}
		$result = self::test_connection( $connection );
		if ( $result['ok'] ) {
			wp_send_json_success( $result );
		}
		wp_send_json_error( $result );
	}
}
