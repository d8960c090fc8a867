<?php
// phpcs:ignoreFile

/**
 * The "PrintBridge" tab of the product data box.
 */
class ProductAdminTest extends PrintBridge_TestCase {

	/** The panel's HTML for a product post, as the product edit screen prints it. */
	private function panel_for( WP_Post $post ) {
		$GLOBALS['post'] = $post;
		ob_start();
		do_action( 'woocommerce_product_data_panels' );
		$html = ob_get_clean();
		unset( $GLOBALS['post'] );
		$doc = new DOMDocument();
		libxml_use_internal_errors( true );
		$doc->loadHTML( '<?xml encoding="utf-8"?><body>' . $html . '</body>' );
		libxml_clear_errors();
		return $doc;
	}

	/**
	 * WooCommerce's show_and_hide_panels() hides a tab whose panel's `.options_group` children are
	 * all hidden, and the admin script hides the provider groups not chosen: the "Personalised with"
	 * select must sit in an `.options_group` of its own that nothing hides, so the tab stays.
	 */
	private function assert_provider_select_always_visible( DOMDocument $doc ) {
		$xpath  = new DOMXPath( $doc );
		$panel  = $xpath->query( '//div[@id="printbridge_product_data"]' )->item( 0 );
		$this->assertNotNull( $panel );
		$groups = $xpath->query( './div[contains(concat(" ", normalize-space(@class), " "), " options_group ")]', $panel );
		$this->assertGreaterThan( 0, $groups->length );
		$holder = null;
		foreach ( $groups as $group ) {
			if ( $xpath->query( './/select[@id="printbridge_provider"]', $group )->length ) {
				$holder = $group;
			}
		}
		$this->assertNotNull( $holder, 'the provider select is not inside an .options_group child of the panel' );
		$this->assertStringNotContainsString( 'printbridge-spiff', $holder->getAttribute( 'class' ) );
		$this->assertStringNotContainsString( 'printbridge-key2print', $holder->getAttribute( 'class' ) );
		$this->assertStringNotContainsString( 'hide_if_', $holder->getAttribute( 'class' ) );
		$this->assertStringNotContainsString( 'display', $holder->getAttribute( 'style' ) );
		$options = array();
		foreach ( $xpath->query( './/select[@id="printbridge_provider"]/option', $holder ) as $option ) {
			$options[] = $option->getAttribute( 'value' );
		}
		$this->assertSame( array( 'none', 'spiff', 'key2print' ), $options );
	}

	public function test_a_new_product_can_pick_a_provider() {
		$this->admin();
		// What post-new.php?post_type=product starts from.
		require_once ABSPATH . 'wp-admin/includes/post.php';
		$post = get_default_post_to_edit( 'product', true );
		$this->assertSame( 'auto-draft', $post->post_status );
		$this->assert_provider_select_always_visible( $this->panel_for( $post ) );
	}

	public function test_a_not_personalised_product_can_pick_a_provider() {
		$this->admin();
		$id = $this->product( array( '_printbridge_provider' => 'none' ) );
		$this->assert_provider_select_always_visible( $this->panel_for( get_post( $id ) ) );
	}

	public function test_the_tab_shows_for_every_product_type() {
		$tabs = apply_filters( 'woocommerce_product_data_tabs', array() );
		$this->assertSame( 'printbridge_product_data', $tabs['printbridge']['target'] );
		// No show_if_/hide_if_ class: WooCommerce's product type switch leaves it alone.
		$this->assertSame( array(), $tabs['printbridge']['class'] );
	}
}
