<?php
/**
 * Stored connection settings and the connection key.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * The shop's connection to the bridge (URL, store id, store token, webhook secret) and the
 * front-end script locations. Stored in one non-autoloaded option; the token and the secret
 * are only ever read server-side.
 */
final class PrintBridge_Settings {

	/** Option name. */
	const OPTION = 'printbridge_settings';

	/** Prefix of a connection key printed by `printbridge connection-key`. */
	const KEY_PREFIX = 'pbk1_';

	/**
	 * Option holding what the bridge said about the store's Spiff system (region, api.js URL,
	 * application key), learned from its connection status.
	 */
	const SPIFF_OPTION = 'printbridge_spiff';

	/** Spiff regions the bridge names: the current US and AU systems, and legacy AU accounts. */
	const SPIFF_REGIONS = array( 'us', 'au', 'au-legacy' );

	/** WP-Cron hook that refreshes what the bridge said about the store. */
	const REFRESH_HOOK = 'printbridge_refresh_bridge_status';

	/**
	 * Defaults of every stored field.
	 *
	 * @return array<string,string>
	 */
	public static function defaults() {
		return array(
			'bridge_url'        => '',
			'store_id'          => '',
			'store_token'       => '',
			'webhook_secret'    => '',
			'spiff_api_js_url'  => '',
			'k2p_wrapper_url'   => '',
			'k2p_editor_width'  => '100%',
			'k2p_editor_height' => '800px',
		);
	}

	/**
	 * All settings, merged over the defaults.
	 *
	 * @return array<string,string>
	 */
	public static function all() {
		$stored = get_option( self::OPTION, array() );
		if ( ! is_array( $stored ) ) {
			$stored = array();
		}
		$out = self::defaults();
		foreach ( $out as $k => $v ) {
			if ( isset( $stored[ $k ] ) && is_string( $stored[ $k ] ) ) {
				$out[ $k ] = $stored[ $k ];
			}
		}
		return $out;
	}

	/**
	 * One setting.
	 *
	 * @param string $key Field name.
	 * @return string
	 */
	public static function get( $key ) {
		$all = self::all();
		return isset( $all[ $key ] ) ? $all[ $key ] : '';
	}

	/**
	 * Stores settings (only known fields; values are expected to be sanitised already).
	 *
	 * @param array<string,string> $values Field values to change.
	 * @return void
	 */
	public static function update( array $values ) {
		$all = self::all();
		foreach ( $values as $k => $v ) {
			if ( array_key_exists( $k, $all ) && is_string( $v ) ) {
				$all[ $k ] = $v;
			}
		}
		update_option( self::OPTION, $all, false );
	}

	/**
	 * Whether the four connection fields are all set.
	 *
	 * @return bool
	 */
	public static function is_connected() {
		$s = self::all();
		return '' !== $s['bridge_url'] && '' !== $s['store_id'] && '' !== $s['store_token'] && '' !== $s['webhook_secret'];
	}

	/**
	 * The bridge base URL without a trailing slash.
	 *
	 * @return string
	 */
	public static function bridge_url() {
		return untrailingslashit( self::get( 'bridge_url' ) );
	}

	/**
	 * The delivery URL of the shop's WooCommerce webhooks.
	 *
	 * @return string
	 */
	public static function webhook_delivery_url() {
		return self::bridge_url() . '/v1/webhooks/woocommerce/' . rawurlencode( self::get( 'store_id' ) );
	}

	/**
	 * The Spiff api.js URL: the explicit override, else the script of the Spiff system the
	 * bridge orders from ('' until the bridge has said which).
	 *
	 * @return string
	 */
	public static function spiff_api_js_url() {
		$url = self::get( 'spiff_api_js_url' );
		if ( '' !== $url ) {
			return $url;
		}
		return self::spiff()['api_js_url'];
	}

	/**
	 * What the bridge said about the store's Spiff system: region ('' when unknown), the
	 * region's api.js URL and Spiff's application key for the editor.
	 *
	 * @return array{region:string,api_js_url:string,application_key:string}
	 */
	public static function spiff() {
		$out    = array(
			'region'          => '',
			'api_js_url'      => '',
			'application_key' => '',
		);
		$stored = get_option( self::SPIFF_OPTION, array() );
		if ( is_array( $stored ) ) {
			foreach ( $out as $k => $v ) {
				if ( isset( $stored[ $k ] ) && is_string( $stored[ $k ] ) ) {
					$out[ $k ] = $stored[ $k ];
				}
			}
		}
		return $out;
	}

	/**
	 * Keeps what a connection status answer of the bridge says about Spiff: the region decides
	 * which Spiff script and API the product pages use, so a design is made in the system the
	 * bridge orders from. A store without Spiff on the bridge forgets it.
	 *
	 * @param array $status The bridge's `GET /v1/stores/{store}/status` answer.
	 * @return void
	 */
	public static function learn_from_status( array $status ) {
		$spiff = isset( $status['spiff'] ) && is_array( $status['spiff'] ) ? $status['spiff'] : array();
		$text  = static function ( $key ) use ( $spiff ) {
			return isset( $spiff[ $key ] ) && is_string( $spiff[ $key ] ) ? $spiff[ $key ] : '';
		};
		$known = in_array( $text( 'region' ), self::SPIFF_REGIONS, true );
		$url   = esc_url_raw( $text( 'api_js_url' ), array( 'https', 'http' ) );
		update_option(
			self::SPIFF_OPTION,
			array(
				'region'          => $known ? $text( 'region' ) : '',
				'api_js_url'      => $known ? $url : '',
				'application_key' => $known ? sanitize_text_field( $text( 'application_key' ) ) : '',
			),
			false
		);
	}

	/**
	 * Asks the bridge for the store's status and keeps what it says about Spiff (WP-Cron, twice
	 * a day, so a region changed on the bridge reaches the product pages).
	 *
	 * @return void
	 */
	public static function refresh_from_bridge() {
		if ( ! self::is_connected() ) {
			return;
		}
		$status = PrintBridge_Bridge_Client::from_settings( 10 )->status();
		if ( is_array( $status ) ) {
			self::learn_from_status( $status );
		}
	}

	/**
	 * Whether a store id is acceptable as a URL path segment.
	 *
	 * @param string $store Store id.
	 * @return bool
	 */
	public static function is_valid_store_id( $store ) {
		return 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $store );
	}

	/**
	 * Whether a token or secret is acceptable: 1 to 512 printable ASCII characters, no spaces.
	 * (Not passed through sanitize_text_field(), which would alter "%xx" sequences.)
	 *
	 * @param string $value Token or secret.
	 * @return bool
	 */
	public static function is_valid_secret( $value ) {
		return is_string( $value ) && 1 === preg_match( '/^[\x21-\x7E]{1,512}$/D', $value );
	}

	/**
	 * Sanitises a bridge URL: http(s) only, no query or fragment, no trailing slash. '' when invalid.
	 *
	 * @param string $url Raw URL.
	 * @return string
	 */
	public static function sanitize_bridge_url( $url ) {
		$url = trim( (string) $url );
		if ( '' === $url ) {
			return '';
		}
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['scheme'] ) || empty( $parts['host'] )
			|| ! in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true )
			|| isset( $parts['query'] ) || isset( $parts['fragment'] ) || isset( $parts['user'] ) ) {
			return '';
		}
		return untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
	}

	/**
	 * Decodes a connection key (`pbk1_` + base64url(JSON {url, store, token, webhook_secret})).
	 *
	 * @param string $key The key as pasted.
	 * @return array{bridge_url:string,store_id:string,store_token:string,webhook_secret:string}|WP_Error
	 */
	public static function parse_connection_key( $key ) {
		$key = trim( (string) $key );
		if ( 0 !== strpos( $key, self::KEY_PREFIX ) ) {
			return new WP_Error( 'printbridge_key_prefix', __( 'This is not a PrintBridge connection key (it must start with "pbk1_").', 'printbridge' ) );
		}
		$b64 = strtr( substr( $key, strlen( self::KEY_PREFIX ) ), '-_', '+/' );
		$b64 = rtrim( $b64, '=' );
		if ( '' === $b64 || 1 !== preg_match( '#^[A-Za-z0-9+/]+$#D', $b64 ) ) {
			return new WP_Error( 'printbridge_key_encoding', __( 'The connection key is damaged (it is not valid base64url). Copy it again from the bridge.', 'printbridge' ) );
		}
		$json = base64_decode( str_pad( $b64, (int) ( ceil( strlen( $b64 ) / 4 ) * 4 ), '=' ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		$data = false === $json ? null : json_decode( $json, true );
		if ( ! is_array( $data ) ) {
			return new WP_Error( 'printbridge_key_json', __( 'The connection key is damaged (it does not hold JSON). Copy it again from the bridge.', 'printbridge' ) );
		}
		foreach ( array( 'url', 'store', 'token', 'webhook_secret' ) as $field ) {
			if ( ! isset( $data[ $field ] ) || ! is_string( $data[ $field ] ) || '' === $data[ $field ] ) {
				/* translators: %s: name of a missing field */
				return new WP_Error( 'printbridge_key_field', sprintf( __( 'The connection key has no "%s".', 'printbridge' ), $field ) );
			}
		}
		if ( ! self::is_valid_secret( trim( $data['token'] ) ) || ! self::is_valid_secret( trim( $data['webhook_secret'] ) ) ) {
			return new WP_Error( 'printbridge_key_secret', __( 'The token or webhook secret in the connection key holds characters a token cannot have.', 'printbridge' ) );
		}
		$url = self::sanitize_bridge_url( $data['url'] );
		if ( '' === $url ) {
			return new WP_Error( 'printbridge_key_url', __( 'The bridge URL in the connection key is not an http(s) URL.', 'printbridge' ) );
		}
		if ( ! self::is_valid_store_id( $data['store'] ) ) {
			return new WP_Error( 'printbridge_key_store', __( 'The store id in the connection key may only hold letters, digits, "-" and "_".', 'printbridge' ) );
		}
		return array(
			'bridge_url'     => $url,
			'store_id'       => $data['store'],
			'store_token'    => trim( $data['token'] ),
			'webhook_secret' => trim( $data['webhook_secret'] ),
		);
	}
}
