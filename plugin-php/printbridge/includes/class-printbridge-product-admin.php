<?php
/**
 * Product data panel: which provider personalises a product and its settings.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * A "PrintBridge" tab in the product data box; saving it flushes the bridge's Key2print
 * gateway cache for the product at once, so the screen can show a failure.
 */
final class PrintBridge_Product_Admin {

	/** Nonce action of the panel. */
	const NONCE = 'printbridge_product_settings';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_filter( 'woocommerce_product_data_tabs', array( __CLASS__, 'tab' ) );
		add_action( 'woocommerce_product_data_panels', array( __CLASS__, 'panel' ) );
		add_action( 'woocommerce_process_product_meta', array( __CLASS__, 'save' ) );
	}

	/**
	 * Adds the tab.
	 *
	 * @param array $tabs Tabs.
	 * @return array
	 */
	public static function tab( $tabs ) {
		$tabs['printbridge'] = array(
			'label'    => __( 'PrintBridge', 'printbridge' ),
			'target'   => 'printbridge_product_data',
			'class'    => array(),
			'priority' => 75,
		);
		return $tabs;
	}

	/**
	 * Renders the panel.
	 *
	 * @return void
	 */
	public static function panel() {
		global $post;
		$s = PrintBridge_Product_Settings::get( $post ? (int) $post->ID : 0 );
		PrintBridge_Settings_Page::register_admin_script();
		wp_enqueue_script( 'printbridge-admin' );
		PrintBridge_Key2print_Lists::register_script();
		wp_enqueue_script( 'printbridge-k2p-pickers' );
		echo '<div id="printbridge_product_data" class="panel woocommerce_options_panel hidden">';
		wp_nonce_field( self::NONCE, 'printbridge_product_nonce' );
		echo '<div class="options_group">';
		woocommerce_wp_select(
			array(
				'id'          => 'printbridge_provider',
				'label'       => __( 'Personalised with', 'printbridge' ),
				'value'       => $s['provider'],
				'options'     => array(
					'none'      => __( 'Not personalised', 'printbridge' ),
					'spiff'     => __( 'Spiff', 'printbridge' ),
					'key2print' => __( 'Key2print', 'printbridge' ),
				),
				'desc_tip'    => true,
				'description' => __( 'Apliiq needs no setting here: products whose SKU is an Apliiq design SKU (APQ-...) go to Apliiq.', 'printbridge' ),
			)
		);
		echo '</div><div class="options_group printbridge-spiff">';
		woocommerce_wp_text_input(
			array(
				'id'          => 'printbridge_spiff_integration_product_id',
				'label'       => __( 'Spiff integration product id', 'printbridge' ),
				'value'       => $s['spiff_integration_product_id'],
				'desc_tip'    => true,
				'description' => __( 'Shown on the product\'s page in the Spiff Hub.', 'printbridge' ),
			)
		);
		echo '</div><div class="options_group printbridge-key2print">';
		self::key2print_fields( $s );
		echo '</div></div>';
	}

	/**
	 * The Key2print settings of the panel: typed ids with pickers beside them.
	 *
	 * @param array $s The product's settings (PrintBridge_Product_Settings::get()).
	 * @return void
	 */
	private static function key2print_fields( array $s ) {
		woocommerce_wp_text_input(
			array(
				'id'    => 'printbridge_k2p_template_id',
				'label' => __( 'Key2print project template id', 'printbridge' ),
				'value' => $s['k2p_template_id'],
			)
		);
		self::picker( 'printbridge_k2p_template_pick', 'printbridge_k2p_template_id', 'templates', __( 'Project template', 'printbridge' ) );
		$colors = '';
		foreach ( $s['k2p_colors'] as $name => $value ) {
			$colors .= $name . ': ' . $value . "\n";
		}
		woocommerce_wp_textarea_input(
			array(
				'id'          => 'printbridge_k2p_colors',
				'label'       => __( 'Editor colors', 'printbridge' ),
				'value'       => $colors,
				'desc_tip'    => true,
				'description' => __( 'One per line, e.g. "primary: #0055aa".', 'printbridge' ),
			)
		);
		woocommerce_wp_text_input(
			array(
				'id'          => 'printbridge_k2p_hidden_tabs',
				'label'       => __( 'Hidden editor tabs', 'printbridge' ),
				'value'       => implode( ', ', $s['k2p_hidden_tabs'] ),
				'desc_tip'    => true,
				'description' => __( 'Comma-separated tab names.', 'printbridge' ),
			)
		);
		woocommerce_wp_checkbox(
			array(
				'id'          => 'printbridge_k2p_gateway',
				'label'       => __( 'Product gateway', 'printbridge' ),
				'value'       => $s['k2p_gateway'] ? 'yes' : 'no',
				'description' => __( 'Let the editor show this product\'s options and prices (options = attribute names, values = term slugs).', 'printbridge' ),
			)
		);
		woocommerce_wp_text_input(
			array(
				'id'                => 'printbridge_k2p_page_count',
				'label'             => __( 'Setup data: page count', 'printbridge' ),
				'type'              => 'number',
				'value'             => $s['k2p_page_count'] ? (string) $s['k2p_page_count'] : '',
				'custom_attributes' => array( 'min' => '1' ),
			)
		);
		woocommerce_wp_text_input(
			array(
				'id'    => 'printbridge_k2p_template_format_id',
				'label' => __( 'Setup data: template format id', 'printbridge' ),
				'value' => $s['k2p_template_format_id'],
			)
		);
		self::picker( 'printbridge_k2p_format_pick', 'printbridge_k2p_template_format_id', 'template_formats', __( 'Template format', 'printbridge' ) );
		self::placeholder_fields( $s['k2p_placeholders'] );
		printf(
			'<p class="form-field"><button type="button" class="button" id="printbridge-k2p-reload">%1$s</button> <span id="printbridge-k2p-lists-status" role="status"></span></p>',
			esc_html__( 'Reload the Key2print lists', 'printbridge' )
		);
	}

	/**
	 * A select the panel script fills from a Key2print list; choosing an entry writes its id
	 * into the typed field `$target`.
	 *
	 * @param string $id     Select id.
	 * @param string $target Id of the text field it fills.
	 * @param string $list   List name (template_formats, templates, placeholders).
	 * @param string $label  Label.
	 * @return void
	 */
	private static function picker( $id, $target, $list, $label ) {
		printf(
			'<p class="form-field printbridge-k2p-picker"><label for="%1$s">%2$s</label><select id="%1$s" data-target="%3$s" data-list="%4$s" disabled><option value="">%5$s</option></select></p>',
			esc_attr( $id ),
			esc_html( $label ),
			esc_attr( $target ),
			esc_attr( $list ),
			esc_html__( 'Loading...', 'printbridge' )
		);
	}

	/**
	 * The placeholders filled from the customer ("system_name: source" lines) and a picker
	 * that adds a line from Key2print's placeholder list.
	 *
	 * @param array<string,string> $placeholders System name => source.
	 * @return void
	 */
	private static function placeholder_fields( array $placeholders ) {
		$lines   = '';
		$sources = PrintBridge_Product_Settings::placeholder_sources();
		foreach ( $placeholders as $name => $source ) {
			$lines .= $name . ': ' . $source . "\n";
		}
		woocommerce_wp_textarea_input(
			array(
				'id'          => 'printbridge_k2p_placeholders',
				'label'       => __( 'Placeholders filled from the customer', 'printbridge' ),
				'value'       => $lines,
				'desc_tip'    => true,
				/* translators: %s: list of source names */
				'description' => sprintf( __( 'One per line, "placeholder system name: source"; sources: %s.', 'printbridge' ), implode( ', ', array_keys( $sources ) ) ),
			)
		);
		echo '<p class="form-field printbridge-k2p-picker"><label for="printbridge_k2p_placeholder_pick">' . esc_html__( 'Add a placeholder', 'printbridge' ) . '</label>';
		echo '<select id="printbridge_k2p_placeholder_pick" data-list="placeholders" disabled><option value="">' . esc_html__( 'Loading...', 'printbridge' ) . '</option></select> ';
		echo '<select id="printbridge_k2p_placeholder_source">';
		foreach ( $sources as $value => $label ) {
			printf( '<option value="%1$s">%2$s</option>', esc_attr( $value ), esc_html( $label ) );
		}
		echo '</select> <button type="button" class="button" id="printbridge-k2p-placeholder-add">' . esc_html__( 'Add', 'printbridge' ) . '</button></p>';
	}

	/**
	 * Saves the panel and, for Key2print products, flushes the bridge's gateway cache.
	 *
	 * @param int $post_id Product id.
	 * @return void
	 */
	public static function save( $post_id ) {
		if ( ! current_user_can( 'edit_product', $post_id ) ) {
			return;
		}
		$nonce = isset( $_POST['printbridge_product_nonce'] ) ? sanitize_text_field( wp_unslash( $_POST['printbridge_product_nonce'] ) ) : '';
		if ( ! wp_verify_nonce( $nonce, self::NONCE ) ) {
			return;
		}
		$product = wc_get_product( $post_id );
		if ( ! $product ) {
			return;
		}
		$values = PrintBridge_Product_Settings::sanitize( wp_unslash( $_POST ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitised field by field.
		foreach ( $values as $key => $value ) {
			$product->update_meta_data( $key, $value );
		}
		$product->save();
		if ( PrintBridge_Design_Id::PROVIDER_KEY2PRINT === $values[ PrintBridge_Product_Settings::META_PROVIDER ] && PrintBridge_Settings::is_connected() ) {
			$result = PrintBridge_Key2print_Flush::flush_now( $post_id );
			if ( is_wp_error( $result ) && class_exists( 'WC_Admin_Meta_Boxes', false ) ) {
				WC_Admin_Meta_Boxes::add_error(
					/* translators: %s: error message */
					sprintf( __( 'PrintBridge could not flush the Key2print editor cache: %s', 'printbridge' ), $result->get_error_message() )
				);
			}
		}
	}
}
