<?php
/**
 * WooCommerce > Key2print templates: the Key2print editor in merchant mode.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * An admin page where shop managers make Key2print project templates and template formats:
 * a nonce-checked AJAX action asks the bridge for a merchant-mode work session (server-side,
 * with the store token) and the page opens the configured editor wrapper with its token.
 */
final class PrintBridge_Merchant_Editor {

	/** Admin page slug. */
	const PAGE = 'printbridge-key2print';
	/** AJAX action starting a merchant-mode session. */
	const AJAX_SESSION = 'printbridge_k2p_merchant_session';
	/** Capability of the page and the action. */
	const CAPABILITY = 'manage_woocommerce';
	/** Container of the editor iframe. */
	const CONTAINER = 'printbridge-k2p-merchant-editor';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ), 60 );
		add_action( 'wp_ajax_' . self::AJAX_SESSION, array( __CLASS__, 'ajax_session' ) );
	}

	/**
	 * Adds the page under the WooCommerce menu.
	 *
	 * @return void
	 */
	public static function menu() {
		$hook = add_submenu_page(
			'woocommerce',
			__( 'Key2print templates', 'printbridge' ),
			__( 'Key2print templates', 'printbridge' ),
			self::CAPABILITY,
			self::PAGE,
			array( __CLASS__, 'render' )
		);
		if ( $hook ) {
			add_action( 'load-' . $hook, array( __CLASS__, 'enqueue' ) );
		}
	}

	/**
	 * The page's URL.
	 *
	 * @return string
	 */
	public static function url() {
		return admin_url( 'admin.php?page=' . self::PAGE );
	}

	/**
	 * Enqueues the wrapper and the page script (on the page's load hook).
	 *
	 * @return void
	 */
	public static function enqueue() {
		$wrapper = (string) PrintBridge_Settings::get( 'k2p_wrapper_url' );
		$deps    = array();
		if ( '' !== $wrapper ) {
			wp_register_script( 'printbridge-k2p-wrapper', $wrapper, array(), null, true ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion -- third-party URL.
			$deps[] = 'printbridge-k2p-wrapper';
		}
		wp_enqueue_script( 'printbridge-merchant-editor', plugins_url( 'assets/js/printbridge-merchant-editor.js', PRINTBRIDGE_FILE ), $deps, PRINTBRIDGE_VERSION, true );
		wp_localize_script( 'printbridge-merchant-editor', 'printbridgeMerchantEditor', self::script_config() );
	}

	/**
	 * What the page script needs: no token or secret, only the AJAX action and its nonce.
	 *
	 * @return array
	 */
	public static function script_config() {
		return array(
			'ajaxUrl'     => admin_url( 'admin-ajax.php' ),
			'action'      => self::AJAX_SESSION,
			'nonce'       => wp_create_nonce( self::AJAX_SESSION ),
			'containerId' => self::CONTAINER,
			'width'       => PrintBridge_Settings::get( 'k2p_editor_width' ),
			'height'      => PrintBridge_Settings::get( 'k2p_editor_height' ),
			'i18n'        => array(
				'opening'   => __( 'Opening the Key2print editor...', 'printbridge' ),
				'noWrapper' => __( 'The Key2print editor wrapper could not be loaded. Check the "Key2print editor wrapper URL" setting and that this browser can reach it.', 'printbridge' ),
				'failed'    => __( 'The Key2print editor could not be opened.', 'printbridge' ),
				'finished'  => __( 'The editor was closed. Your templates are saved at Key2print.', 'printbridge' ),
			),
		);
	}

	/**
	 * Renders the page.
	 *
	 * @return void
	 */
	public static function render() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to edit Key2print templates.', 'printbridge' ), 403 );
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'Key2print templates', 'printbridge' ) . '</h1>';
		echo '<p>' . esc_html__( 'Make project templates and template formats in the Key2print editor. Products use them in their PrintBridge tab.', 'printbridge' ) . '</p>';
		$problem = self::setup_problem();
		if ( '' !== $problem ) {
			echo '<div class="notice notice-warning inline"><p>' . esc_html( $problem ) . '</p></div></div>';
			return;
		}
		printf(
			'<p><button type="button" class="button button-primary" id="printbridge-open-merchant-editor">%s</button></p>',
			esc_html__( 'Open the Key2print editor', 'printbridge' )
		);
		echo '<p id="printbridge-merchant-status" role="status" aria-live="polite"></p>';
		printf( '<div id="%s"></div></div>', esc_attr( self::CONTAINER ) );
	}

	/**
	 * Why the editor cannot open from the plugin's settings alone, in words; '' when it can try.
	 *
	 * @return string
	 */
	public static function setup_problem() {
		if ( ! PrintBridge_Settings::is_connected() ) {
			return PrintBridge_Key2print_Lists::not_connected_message();
		}
		if ( '' === (string) PrintBridge_Settings::get( 'k2p_wrapper_url' ) ) {
			return __( 'Set the "Key2print editor wrapper URL" under WooCommerce > Settings > PrintBridge to open the editor.', 'printbridge' );
		}
		return '';
	}

	/**
	 * Starts a merchant-mode work session through the bridge.
	 *
	 * @return array{token:string}|WP_Error
	 */
	public static function start_session() {
		$result = PrintBridge_Bridge_Client::from_settings()->key2print_session( array( 'mode' => 'merchant' ) );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		if ( empty( $result['token'] ) || ! is_string( $result['token'] ) ) {
			return new WP_Error( 'printbridge_bad_response', __( 'The bridge returned no editor session.', 'printbridge' ) );
		}
		return array( 'token' => $result['token'] );
	}

	/**
	 * AJAX: a merchant-mode session token for a shop manager; the error in words otherwise.
	 *
	 * @return void
	 */
	public static function ajax_session() {
		if ( ! check_ajax_referer( self::AJAX_SESSION, 'nonce', false ) ) {
			wp_send_json_error( array( 'message' => __( 'Your page has expired. Please reload it.', 'printbridge' ) ), 403 );
		}
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to edit Key2print templates.', 'printbridge' ) ), 403 );
		}
		$problem = self::setup_problem();
		if ( '' !== $problem ) {
			wp_send_json_error( array( 'message' => $problem ), 409 );
		}
		$result = self::start_session();
		if ( is_wp_error( $result ) ) {
			$code = 'printbridge_key2print_not_configured' === $result->get_error_code() ? 409 : 502;
			wp_send_json_error( array( 'message' => $result->get_error_message() ), $code );
		}
		wp_send_json_success( $result );
	}
}
