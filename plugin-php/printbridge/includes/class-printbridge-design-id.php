<?php
/**
 * Providers, their design ids and the line-item meta contract with the bridge.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Which providers personalise a product, what a well-formed design id looks like
 * and under which line-item meta key the bridge expects it.
 */
final class PrintBridge_Design_Id {

	/** No personalisation. */
	const PROVIDER_NONE = 'none';
	/** Spiff: the design id is a Spiff transaction id (a UUID). */
	const PROVIDER_SPIFF = 'spiff';
	/** Key2print: the design id is a Key2print project id. */
	const PROVIDER_KEY2PRINT = 'key2print';

	/** Line-item meta key read by the bridge for Spiff items. */
	const META_SPIFF = '_printbridge_spiff_transaction_id';
	/** Line-item meta key read by the bridge for Key2print items. */
	const META_KEY2PRINT = '_printbridge_key2print_project_id';

	/** Name of the hidden form field (and Store API request field) holding the design id. */
	const FIELD = 'printbridge_design_id';

	/**
	 * Providers a product can be personalised with.
	 *
	 * @return string[]
	 */
	public static function providers() {
		return array( self::PROVIDER_NONE, self::PROVIDER_SPIFF, self::PROVIDER_KEY2PRINT );
	}

	/**
	 * Whether a design id is well-formed for a provider.
	 *
	 * Spiff: a UUID (any version, either case). Key2print: 1 to 64 characters of [A-Za-z0-9_-].
	 *
	 * @param string $provider Provider id.
	 * @param mixed  $id       Candidate design id.
	 * @return bool
	 */
	public static function is_valid( $provider, $id ) {
		if ( ! is_string( $id ) ) {
			return false;
		}
		switch ( $provider ) {
			case self::PROVIDER_SPIFF:
				return 1 === preg_match( '/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/D', $id );
			case self::PROVIDER_KEY2PRINT:
				return 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $id );
			default:
				return false;
		}
	}

	/**
	 * Normalises raw request input into a candidate design id (trimmed string, or '' when absent).
	 *
	 * @param mixed $raw Raw value, e.g. from $_POST (may carry slashes).
	 * @return string
	 */
	public static function from_input( $raw ) {
		if ( ! is_string( $raw ) ) {
			return '';
		}
		return trim( wp_unslash( $raw ) );
	}

	/**
	 * The line-item meta key the bridge reads for a provider, or '' for none.
	 *
	 * @param string $provider Provider id.
	 * @return string
	 */
	public static function meta_key( $provider ) {
		if ( self::PROVIDER_SPIFF === $provider ) {
			return self::META_SPIFF;
		}
		if ( self::PROVIDER_KEY2PRINT === $provider ) {
			return self::META_KEY2PRINT;
		}
		return '';
	}

	/**
	 * Human label of a provider.
	 *
	 * @param string $provider Provider id.
	 * @return string
	 */
	public static function provider_label( $provider ) {
		switch ( $provider ) {
			case self::PROVIDER_SPIFF:
				return __( 'Spiff', 'printbridge' );
			case self::PROVIDER_KEY2PRINT:
				return __( 'Key2print', 'printbridge' );
			case 'apliiq':
				return __( 'Apliiq', 'printbridge' );
			default:
				return __( 'None', 'printbridge' );
		}
	}
}
