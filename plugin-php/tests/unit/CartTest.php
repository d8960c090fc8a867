<?php
// phpcs:ignoreFile

class CartTest extends PrintBridge_TestCase {

	const T1 = 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38';
	const T2 = '0f6b1c2d-3e4f-4a5b-8c7d-9e0f1a2b3c4d';

	private function spiff_product() {
		return $this->product( array( '_printbridge_provider' => 'spiff', '_printbridge_spiff_integration_product_id' => 'ip-1' ) );
	}

	private function post_design( $product_id, $design, $nonce = null ) {
		$_POST = array(
			'quantity'                => '2',
			'add-to-cart'             => (string) $product_id,
			'printbridge_design_id'   => $design,
			'printbridge_nonce'       => null === $nonce ? wp_create_nonce( PrintBridge_Cart::nonce_action( $product_id ) ) : $nonce,
		);
	}

	public function test_personalised_product_needs_a_design() {
		$id = $this->spiff_product();
		$this->post_design( $id, '' );
		$this->assertFalse( WC()->cart->form_add_to_cart( $id ) );
		$this->assertSame( array(), WC()->cart->get_cart() );
		$this->assertSame( 'Please personalise this product before adding it to the cart.', wc_get_notices( 'error' )[0]['message'] );
	}

	public function test_malformed_design_id_is_refused() {
		$id = $this->spiff_product();
		$this->post_design( $id, 'not-a-uuid' );
		$this->assertFalse( WC()->cart->form_add_to_cart( $id ) );
		$this->post_design( $id, self::T1 . '<script>' );
		$this->assertFalse( WC()->cart->form_add_to_cart( $id ) );
		$this->assertSame( array(), WC()->cart->get_cart() );
		$this->assertCount( 2, wc_get_notices( 'error' ) );
	}

	public function test_bad_nonce_is_refused() {
		$id = $this->spiff_product();
		$this->post_design( $id, self::T1, 'deadbeef00' );
		$this->assertFalse( WC()->cart->form_add_to_cart( $id ) );
		$this->assertStringContainsString( 'expired', wc_get_notices( 'error' )[0]['message'] );
		// A nonce of another product does not fit either.
		$other = $this->spiff_product();
		$this->post_design( $id, self::T1, wp_create_nonce( PrintBridge_Cart::nonce_action( $other ) ) );
		$this->assertFalse( WC()->cart->form_add_to_cart( $id ) );
	}

	public function test_plain_products_are_untouched() {
		$id    = $this->product();
		$_POST = array( 'quantity' => '1' );
		$key   = WC()->cart->form_add_to_cart( $id );
		$this->assertIsString( $key );
		$this->assertArrayNotHasKey( 'printbridge', WC()->cart->get_cart()[ $key ] );
		$this->assertSame( array(), wc_get_item_data_rows( WC()->cart->get_cart()[ $key ] ) );
	}

	public function test_two_designs_of_one_product_stay_two_lines() {
		$id = $this->spiff_product();
		$this->post_design( $id, self::T1 );
		$k1 = WC()->cart->form_add_to_cart( $id );
		$this->post_design( $id, self::T2 );
		$k2 = WC()->cart->form_add_to_cart( $id );
		$this->post_design( $id, self::T1 );
		$k3 = WC()->cart->form_add_to_cart( $id );
		$this->assertNotSame( $k1, $k2 );
		$this->assertSame( $k1, $k3 );
		$cart = WC()->cart->get_cart();
		$this->assertCount( 2, $cart );
		$this->assertSame( 4, $cart[ $k1 ]['quantity'] );
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T1 ), $cart[ $k1 ]['printbridge'] );
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T2 ), $cart[ $k2 ]['printbridge'] );
	}

	public function test_design_survives_the_session_and_shows_in_the_cart() {
		$id = $this->spiff_product();
		$this->post_design( $id, self::T1 );
		$key    = WC()->cart->form_add_to_cart( $id );
		$stored = WC()->cart->get_cart_for_session();
		// A tampered session entry is dropped.
		$stored['tampered']                = $stored[ $key ];
		$stored['tampered']['printbridge'] = array( 'provider' => 'spiff', 'design_id' => 'x' );
		WC()->cart->empty_cart();
		WC()->cart->load_from_session( $stored );
		$cart = WC()->cart->get_cart();
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T1 ), $cart[ $key ]['printbridge'] );
		$this->assertArrayNotHasKey( 'printbridge', $cart['tampered'] );
		$rows = wc_get_item_data_rows( $cart[ $key ] );
		$this->assertSame( 'Personalised design', $rows[0]['key'] );
		$this->assertSame( 'Spiff · e3ac7f3a', $rows[0]['value'] );
	}

	public function test_order_line_items_get_the_contract_meta_key() {
		$spiff = $this->spiff_product();
		$k2p   = $this->product( array( '_printbridge_provider' => 'key2print' ) );
		$plain = $this->product();
		$this->post_design( $spiff, self::T1 );
		WC()->cart->form_add_to_cart( $spiff );
		$this->post_design( $k2p, 'proj_42-A' );
		WC()->cart->form_add_to_cart( $k2p );
		$_POST = array();
		WC()->cart->form_add_to_cart( $plain );

		$order = new WC_Order( 101 );
		WC()->checkout->create_order_line_items( $order, WC()->cart );
		$this->assertCount( 3, $order->items );
		list( $a, $b, $c ) = $order->items;
		$this->assertSame( self::T1, $a->get_meta( '_printbridge_spiff_transaction_id' ) );
		$this->assertSame( '', $a->get_meta( '_printbridge_key2print_project_id' ) );
		$this->assertSame( 'proj_42-A', $b->get_meta( '_printbridge_key2print_project_id' ) );
		$this->assertSame( array(), $c->get_meta_data() );
	}

	public function test_internal_keys_are_hidden_from_customers_and_labelled_for_the_admin() {
		$item = new WC_Order_Item_Product();
		$item->add_meta_data( '_printbridge_spiff_transaction_id', self::T1, true );
		$item->add_meta_data( 'Size', 'A4' );
		$formatted = $item->get_formatted_meta_data( '' ); // Even without the protected-key rule.
		$keys      = array_map( function ( $m ) { return $m->key; }, $formatted );
		$this->assertSame( array( 'Size' ), array_values( $keys ) );

		$hidden = apply_filters( 'woocommerce_hidden_order_itemmeta', array( '_qty' ) );
		$this->assertContains( '_printbridge_spiff_transaction_id', $hidden );
		$this->assertContains( '_printbridge_key2print_project_id', $hidden );
		$this->assertContains( '_qty', $hidden );

		require_once ABSPATH . 'wp-admin/includes/class-wp-screen.php';
		require_once ABSPATH . 'wp-admin/includes/screen.php';
		set_current_screen( 'dashboard' ); // is_admin() from here on.
		ob_start();
		do_action( 'woocommerce_after_order_itemmeta', 7, $item, null );
		$html = ob_get_clean();
		$GLOBALS['current_screen'] = null;
		$this->assertSame( '<div class="printbridge-item-design"><strong>Personalised design (Spiff):</strong> <code>' . self::T1 . '</code></div>', $html );
	}

	public function test_variations_follow_their_parent_product() {
		$parent    = $this->spiff_product();
		$variation = $this->product( array(), 'product_variation', $parent );
		$this->assertSame( 'spiff', PrintBridge_Product_Settings::provider( $variation ) );
		$this->post_design( $parent, '' );
		$this->assertFalse( apply_filters( 'woocommerce_add_to_cart_validation', true, $parent, 1, $variation ) );
	}

	public function test_items_without_their_design_block_checkout() {
		$id    = $this->product();
		$_POST = array( 'quantity' => '1' );
		$key   = WC()->cart->form_add_to_cart( $id );
		do_action( 'woocommerce_check_cart_items' );
		$this->assertSame( array(), wc_get_notices( 'error' ) );

		// The product becomes personalised after the item was added.
		update_post_meta( $id, '_printbridge_provider', 'key2print' );
		do_action( 'woocommerce_check_cart_items' );
		$this->assertSame( array( '"Card" needs a personalised design. Please remove it from the cart and personalise it again.' ), wp_list_pluck( wc_get_notices( 'error' ), 'message' ) );
		try {
			do_action( 'woocommerce_store_api_validate_cart_item', wc_get_product( $id ), WC()->cart->get_cart()[ $key ] );
			$this->fail( 'expected a RouteException' );
		} catch ( Automattic\WooCommerce\StoreApi\Exceptions\RouteException $e ) {
			$this->assertSame( 'printbridge_design_missing', $e->getErrorCode() );
		}
		// A design of another provider does not count either.
		$item                = WC()->cart->get_cart()[ $key ];
		$item['printbridge'] = array( 'provider' => 'spiff', 'design_id' => self::T1 );
		$this->assertTrue( PrintBridge_Cart::lacks_design( $item ) );
		$item['printbridge'] = array( 'provider' => 'key2print', 'design_id' => 'p1' );
		$this->assertFalse( PrintBridge_Cart::lacks_design( $item ) );
	}
}
