<?php
// phpcs:ignoreFile

/**
 * Shop loops, the product collection's Product Button block and the Store API: a personalised
 * product's button is a "Personalise" link to its product page.
 */
class ShopLoopTest extends PrintBridge_TestCase {

	protected function setUp(): void {
		parent::setUp();
		update_option( 'woocommerce_enable_ajax_add_to_cart', 'yes' );
	}

	/** The classic loop button (loop/add-to-cart.php) of a product. */
	private static function loop_button( $id ) {
		$GLOBALS['product'] = wc_get_product( $id );
		ob_start();
		woocommerce_template_loop_add_to_cart();
		$html = ob_get_clean();
		unset( $GLOBALS['product'] );
		return $html;
	}

	/** The href, text and classes of the first link or button of some HTML. */
	private static function button_of( $html ) {
		$doc = new DOMDocument();
		libxml_use_internal_errors( true );
		$doc->loadHTML( '<?xml encoding="utf-8"?><body>' . $html . '</body>' );
		libxml_clear_errors();
		$el = ( new DOMXPath( $doc ) )->query( '//a | //button' )->item( 0 );
		return array(
			'tag'   => $el->nodeName,
			'href'  => $el->getAttribute( 'href' ),
			'text'  => trim( $el->textContent ),
			'class' => ' ' . $el->getAttribute( 'class' ) . ' ',
			'label' => $el->getAttribute( 'aria-label' ),
		);
	}

	public function test_classic_loop_links_a_personalised_product_to_its_page() {
		$id     = $this->product( array( '_printbridge_provider' => 'spiff' ), 'Mug' );
		$button = self::button_of( self::loop_button( $id ) );
		$this->assertSame( get_permalink( $id ), $button['href'] );
		$this->assertSame( 'Personalise', $button['text'] );
		$this->assertStringNotContainsString( ' ajax_add_to_cart ', $button['class'] );
		$this->assertStringContainsString( ' button ', $button['class'] );
		$this->assertSame( 'Personalise “Mug”', html_entity_decode( $button['label'], ENT_QUOTES, 'UTF-8' ) );
	}

	public function test_plain_products_keep_the_ajax_add_to_cart_button() {
		$id     = $this->product( array(), 'Pen' );
		$button = self::button_of( self::loop_button( $id ) );
		$this->assertStringContainsString( 'add-to-cart=' . $id, $button['href'] );
		$this->assertSame( 'Add to cart', $button['text'] );
		$this->assertStringContainsString( ' ajax_add_to_cart ', $button['class'] );
	}

	public function test_variable_and_out_of_stock_products() {
		list( $parent ) = $this->variable_product( array( '_printbridge_provider' => 'key2print' ) );
		$button         = self::button_of( self::loop_button( $parent ) );
		$this->assertSame( get_permalink( $parent ), $button['href'] );
		$this->assertSame( 'Personalise', $button['text'] );

		// Out of stock: WooCommerce's own "Read more" stays.
		$id      = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		$product = wc_get_product( $id );
		$product->set_stock_status( 'outofstock' );
		$product->save();
		$this->assertSame( 'Read more', self::button_of( self::loop_button( $id ) )['text'] );
	}

	public function test_product_collection_button_block_links_to_the_product_page() {
		$id    = $this->product( array( '_printbridge_provider' => 'spiff' ), 'Mug' );
		$block = new WP_Block( array( 'blockName' => 'woocommerce/product-button', 'attrs' => array(), 'innerBlocks' => array(), 'innerHTML' => '', 'innerContent' => array() ), array( 'postId' => $id ) );
		$html  = $block->render();
		$button = self::button_of( $html );
		$this->assertSame( 'a', $button['tag'], $html );
		$this->assertSame( get_permalink( $id ), $button['href'] );
		$this->assertSame( 'Personalise', $button['text'] );
		$this->assertStringNotContainsString( ' ajax_add_to_cart ', $button['class'] );

		$plain = $this->product( array(), 'Pen' );
		$block = new WP_Block( array( 'blockName' => 'woocommerce/product-button', 'attrs' => array(), 'innerBlocks' => array(), 'innerHTML' => '', 'innerContent' => array() ), array( 'postId' => $plain ) );
		$this->assertSame( 'button', self::button_of( $block->render() )['tag'] );
	}

	public function test_store_api_products_say_personalise() {
		$id                  = $this->product( array( '_printbridge_provider' => 'key2print' ), 'Cards' );
		list( $code, $data ) = self::store_api( 'GET', 'products/' . $id );
		$this->assertSame( 200, $code );
		$this->assertSame( get_permalink( $id ), $data['add_to_cart']['url'] );
		$this->assertSame( 'Personalise', $data['add_to_cart']['text'] );
	}
}
