<?php
/**
 * Per-product provider settings.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Reads and sanitises the provider settings stored as product meta.
 */
final class PrintBridge_Product_Settings {

	const META_PROVIDER          = '_printbridge_provider';
	const META_SPIFF_PRODUCT     = '_printbridge_spiff_integration_product_id';
	const META_K2P_TEMPLATE      = '_printbridge_key2print_template_id';
	const META_K2P_COLORS        = '_printbridge_key2print_editor_colors';
	const META_K2P_HIDDEN_TABS   = '_printbridge_key2print_hidden_tabs';
	const META_K2P_GATEWAY       = '_printbridge_key2print_gateway';
	const META_K2P_PAGE_COUNT    = '_printbridge_key2print_page_count';
	const META_K2P_TEMPLATE_FORM = '_printbridge_key2print_template_format_id';
	const META_K2P_PLACEHOLDERS  = '_printbridge_key2print_placeholders';

	/**
	 * All meta keys this plugin stores on products.
	 *
	 * @return string[]
	 */
	public static function meta_keys() {
		return array(
			self::META_PROVIDER,
			self::META_SPIFF_PRODUCT,
			self::META_K2P_TEMPLATE,
			self::META_K2P_COLORS,
			self::META_K2P_HIDDEN_TABS,
			self::META_K2P_GATEWAY,
			self::META_K2P_PAGE_COUNT,
			self::META_K2P_TEMPLATE_FORM,
			self::META_K2P_PLACEHOLDERS,
		);
	}

	/**
	 * What a Key2print placeholder can be filled with: customer fields, by name.
	 *
	 * @return array<string,string> Source => label.
	 */
	public static function placeholder_sources() {
		return array(
			'name'       => __( 'Customer name', 'printbridge' ),
			'first_name' => __( 'First name', 'printbridge' ),
			'last_name'  => __( 'Last name', 'printbridge' ),
			'email'      => __( 'Email address', 'printbridge' ),
			'phone'      => __( 'Phone (billing)', 'printbridge' ),
			'company'    => __( 'Company (billing)', 'printbridge' ),
		);
	}

	/**
	 * The provider personalising a product (for a variation: its parent's setting).
	 *
	 * @param WC_Product|int|null $product Product or id.
	 * @return string One of PrintBridge_Design_Id::providers().
	 */
	public static function provider( $product ) {
		$product = self::resolve( $product );
		if ( ! $product ) {
			return PrintBridge_Design_Id::PROVIDER_NONE;
		}
		$value = (string) $product->get_meta( self::META_PROVIDER, true );
		return in_array( $value, PrintBridge_Design_Id::providers(), true ) ? $value : PrintBridge_Design_Id::PROVIDER_NONE;
	}

	/**
	 * The settings of a product as an array.
	 *
	 * @param WC_Product|int|null $product Product or id.
	 * @return array{provider:string,spiff_integration_product_id:string,k2p_template_id:string,k2p_colors:array,k2p_hidden_tabs:string[],k2p_gateway:bool,k2p_page_count:int,k2p_template_format_id:string,k2p_placeholders:array<string,string>}
	 */
	public static function get( $product ) {
		$product = self::resolve( $product );
		$meta    = static function ( $key ) use ( $product ) {
			return $product ? (string) $product->get_meta( $key, true ) : '';
		};
		$colors  = json_decode( $meta( self::META_K2P_COLORS ), true );
		$places  = json_decode( $meta( self::META_K2P_PLACEHOLDERS ), true );
		return array(
			'provider'                     => self::provider( $product ),
			'spiff_integration_product_id' => $meta( self::META_SPIFF_PRODUCT ),
			'k2p_template_id'              => $meta( self::META_K2P_TEMPLATE ),
			'k2p_colors'                   => is_array( $colors ) ? $colors : array(),
			'k2p_hidden_tabs'              => self::split_list( $meta( self::META_K2P_HIDDEN_TABS ) ),
			'k2p_gateway'                  => 'yes' === $meta( self::META_K2P_GATEWAY ),
			'k2p_page_count'               => (int) $meta( self::META_K2P_PAGE_COUNT ),
			'k2p_template_format_id'       => $meta( self::META_K2P_TEMPLATE_FORM ),
			'k2p_placeholders'             => is_array( $places ) ? $places : array(),
		);
	}

	/**
	 * Sanitises raw form input of the product data panel into meta values.
	 *
	 * @param array $input Unslashed form values.
	 * @return array<string,string> Meta key => value.
	 */
	public static function sanitize( array $input ) {
		$str      = static function ( $key ) use ( $input ) {
			return isset( $input[ $key ] ) && is_string( $input[ $key ] ) ? sanitize_text_field( $input[ $key ] ) : '';
		};
		$provider = $str( 'printbridge_provider' );
		if ( ! in_array( $provider, PrintBridge_Design_Id::providers(), true ) ) {
			$provider = PrintBridge_Design_Id::PROVIDER_NONE;
		}
		$colors = array();
		$raw    = isset( $input['printbridge_k2p_colors'] ) && is_string( $input['printbridge_k2p_colors'] ) ? $input['printbridge_k2p_colors'] : '';
		foreach ( preg_split( '/[\r\n]+/', $raw ) as $line ) {
			// One "name: #rrggbb" (or "name=#rgb") per line.
			if ( preg_match( '/^\s*([A-Za-z][A-Za-z0-9_]{0,63})\s*[:=]\s*(#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?)\s*$/', $line, $m ) ) {
				$colors[ $m[1] ] = strtolower( $m[2] );
			}
		}
		$tabs = array();
		foreach ( self::split_list( $str( 'printbridge_k2p_hidden_tabs' ) ) as $tab ) {
			if ( preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $tab ) ) {
				$tabs[] = $tab;
			}
		}
		$places = array();
		$raw    = isset( $input['printbridge_k2p_placeholders'] ) && is_string( $input['printbridge_k2p_placeholders'] ) ? $input['printbridge_k2p_placeholders'] : '';
		foreach ( preg_split( '/[\r\n]+/', $raw ) as $line ) {
			// One "system_name: source" per line; the source is a customer field.
			if ( preg_match( '/^\s*([A-Za-z0-9_-]{1,64})\s*[:=]\s*([a-z_]+)\s*$/', $line, $m ) && isset( self::placeholder_sources()[ $m[2] ] ) ) {
				$places[ $m[1] ] = $m[2];
			}
		}
		$page_count = absint( $str( 'printbridge_k2p_page_count' ) );
		$format     = $str( 'printbridge_k2p_template_format_id' );
		return array(
			self::META_PROVIDER          => $provider,
			self::META_SPIFF_PRODUCT     => preg_replace( '/[^A-Za-z0-9_-]/', '', $str( 'printbridge_spiff_integration_product_id' ) ),
			self::META_K2P_TEMPLATE      => preg_replace( '/[^A-Za-z0-9_-]/', '', $str( 'printbridge_k2p_template_id' ) ),
			self::META_K2P_COLORS        => $colors ? (string) wp_json_encode( $colors ) : '',
			self::META_K2P_HIDDEN_TABS   => implode( ',', array_unique( $tabs ) ),
			self::META_K2P_GATEWAY       => ! empty( $input['printbridge_k2p_gateway'] ) ? 'yes' : 'no',
			self::META_K2P_PAGE_COUNT    => $page_count > 0 ? (string) $page_count : '',
			self::META_K2P_TEMPLATE_FORM => preg_replace( '/[^A-Za-z0-9_-]/', '', $format ),
			self::META_K2P_PLACEHOLDERS  => $places ? (string) wp_json_encode( $places ) : '',
		);
	}

	/**
	 * Splits a comma/space separated list.
	 *
	 * @param string $value List.
	 * @return string[]
	 */
	private static function split_list( $value ) {
		return array_values( array_filter( array_map( 'trim', preg_split( '/[\s,]+/', (string) $value ) ), 'strlen' ) );
	}

	/**
	 * A product object for a product or id; variations resolve to their parent.
	 *
	 * @param WC_Product|int|null $product Product or id.
	 * @return WC_Product|null
	 */
	private static function resolve( $product ) {
		if ( is_numeric( $product ) ) {
			$product = wc_get_product( (int) $product );
		}
		if ( ! is_object( $product ) ) {
			return null;
		}
		if ( method_exists( $product, 'get_parent_id' ) && method_exists( $product, 'is_type' ) && $product->is_type( 'variation' ) && $product->get_parent_id() ) {
			$parent = wc_get_product( $product->get_parent_id() );
			if ( $parent ) {
				return $parent;
			}
		}
		return $product;
	}
}
