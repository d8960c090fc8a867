<?php
/**
 * Key2print lists for the product panel's pickers.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * An AJAX action (nonce + `edit_products`) answering the merchant's Key2print template formats,
 * project templates and placeholders, read from the bridge with the store token. The panel
 * offers them as choices beside the typed ids, which keep working when the lists cannot load.
 */
final class PrintBridge_Key2print_Lists {

	/** AJAX action and nonce action. */
	const AJAX = 'printbridge_k2p_lists';
	/** Capability the lists need. */
	const CAPABILITY = 'edit_products';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'wp_ajax_' . self::AJAX, array( __CLASS__, 'ajax' ) );
	}

	/**
	 * Registers the panel script (enqueued by the panel).
	 *
	 * @return void
	 */
	public static function register_script() {
		if ( wp_script_is( 'printbridge-k2p-pickers', 'registered' ) ) {
			return;
		}
		wp_register_script( 'printbridge-k2p-pickers', plugins_url( 'assets/js/printbridge-k2p-pickers.js', PRINTBRIDGE_FILE ), array(), PRINTBRIDGE_VERSION, true );
		wp_localize_script(
			'printbridge-k2p-pickers',
			'printbridgeK2pLists',
			array(
				'ajaxUrl' => admin_url( 'admin-ajax.php' ),
				'action'  => self::AJAX,
				'nonce'   => wp_create_nonce( self::AJAX ),
				'i18n'    => array(
					'loading'     => __( 'Loading...', 'printbridge' ),
					'choose'      => __( '- choose from Key2print -', 'printbridge' ),
					'unavailable' => __( 'The Key2print lists could not be loaded; the ids typed above stay as they are.', 'printbridge' ),
					'truncated'   => __( 'Key2print holds more entries than are listed here; type an id that is not listed.', 'printbridge' ),
				),
			)
		);
	}

	/**
	 * The three lists, reduced to what the pickers show.
	 *
	 * @param bool $refresh Read them from Key2print again instead of the bridge's cache.
	 * @return array{template_formats:array,templates:array,placeholders:array,truncated:bool}|WP_Error
	 */
	public static function lists( $refresh = false ) {
		if ( ! PrintBridge_Settings::is_connected() ) {
			return new WP_Error( 'printbridge_not_configured', self::not_connected_message() );
		}
		$client = PrintBridge_Bridge_Client::from_settings();
		$reads  = array(
			'template_formats' => 'key2print_template_formats',
			'templates'        => 'key2print_templates',
			'placeholders'     => 'key2print_placeholders',
		);
		$out    = array( 'truncated' => false );
		foreach ( $reads as $name => $method ) {
			$read = $client->$method( $refresh );
			if ( is_wp_error( $read ) ) {
				return $read;
			}
			$out[ $name ]     = self::entries( $name, isset( $read[ $name ] ) ? $read[ $name ] : array() );
			$out['truncated'] = $out['truncated'] || ! empty( $read['truncated'] );
		}
		return $out;
	}

	/**
	 * What the admin is told while the plugin has no bridge connection.
	 *
	 * @return string
	 */
	public static function not_connected_message() {
		return __( 'PrintBridge is not connected to a bridge yet: fill in the connection under WooCommerce > Settings > PrintBridge.', 'printbridge' );
	}

	/**
	 * The fields the pickers use of each entry, as plain strings.
	 *
	 * @param string $list    List name.
	 * @param mixed  $entries Entries as the bridge answered them.
	 * @return array<int,array<string,string>>
	 */
	private static function entries( $list, $entries ) {
		$fields = array(
			'template_formats' => array( 'id', 'name' ),
			'templates'        => array( 'id', 'name', 'template_format_id', 'template_format_name' ),
			'placeholders'     => array( 'system_name', 'name' ),
		);
		$out = array();
		foreach ( is_array( $entries ) ? $entries : array() as $entry ) {
			$row = array();
			foreach ( $fields[ $list ] as $field ) {
				$row[ $field ] = is_array( $entry ) && isset( $entry[ $field ] ) && is_scalar( $entry[ $field ] ) ? sanitize_text_field( (string) $entry[ $field ] ) : '';
			}
			$out[] = $row;
		}
		return $out;
	}

	/**
	 * AJAX: the lists, or the reason they cannot be read.
	 *
	 * @return void
	 */
	public static function ajax() {
		if ( ! check_ajax_referer( self::AJAX, 'nonce', false ) ) {
			wp_send_json_error( array( 'message' => __( 'Your page has expired. Please reload it.', 'printbridge' ) ), 403 );
		}
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to edit products.', 'printbridge' ) ), 403 );
		}
		$refresh = isset( $_POST['refresh'] ) && '1' === sanitize_text_field( wp_unslash( $_POST['refresh'] ) );
		$lists   = self::lists( $refresh );
		if ( is_wp_error( $lists ) ) {
			$code = 'printbridge_key2print_not_configured' === $lists->get_error_code() || 'printbridge_not_configured' === $lists->get_error_code() ? 409 : 502;
			wp_send_json_error( array( 'message' => $lists->get_error_message() ), $code );
		}
		wp_send_json_success( $lists );
	}
}
