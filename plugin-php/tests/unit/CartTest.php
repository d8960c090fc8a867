<?php
// phpcs:ignoreFile

class CartTest extends PrintBridge_TestCase {

	const T1 = 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38';
	const T2 = '0f6b1c2d-3e4f-4a5b-8c7d-9e0f1a2b3c4d';

	private function spiff_product() {
		return $this->product( array( '_printbridge_provider' => 'spiff', '_printbridge_spiff_integration_product_id' => 'ip-1' ) );
	}

	/** Submits the product form with a design: the cart key it added to, or false. */
	private function add_design( $product_id, $design, $nonce = null ) {
		return $this->form_add_to_cart(
			$product_id,
			array(
				'quantity'              => '2',
				'printbridge_design_id' => $design,
				'printbridge_nonce'     => null === $nonce ? wp_create_nonce( PrintBridge_Cart::nonce_action( $product_id ) ) : $nonce,
			)
		);
	}

	public function test_personalised_product_needs_a_design() {
		$id = $this->spiff_product();
		$this->assertFalse( $this->add_design( $id, '' ) );
		$this->assertSame( array(), WC()->cart->get_cart() );
		$this->assertSame( 'Please personalise this product before adding it to the cart.', self::notices()[0] );
	}

	public function test_malformed_design_id_is_refused() {
		$id = $this->spiff_product();
		$this->assertFalse( $this->add_design( $id, 'not-a-uuid' ) );
		$this->assertFalse( $this->add_design( $id, self::T1 . '<script>' ) );
		$this->assertSame( array(), WC()->cart->get_cart() );
		$this->assertCount( 2, self::notices() );
	}

	public function test_bad_nonce_is_refused() {
		$id = $this->spiff_product();
		$this->assertFalse( $this->add_design( $id, self::T1, 'deadbeef00' ) );
		$this->assertStringContainsString( 'expired', self::notices()[0] );
		// A nonce of another product does not fit either.
		$other = $this->spiff_product();
		$this->assertFalse( $this->add_design( $id, self::T1, wp_create_nonce( PrintBridge_Cart::nonce_action( $other ) ) ) );
	}

	public function test_plain_products_are_untouched() {
		$id  = $this->product();
		$key = $this->form_add_to_cart( $id, array( 'quantity' => '1' ) );
		$this->assertIsString( $key );
		$this->assertArrayNotHasKey( 'printbridge', WC()->cart->get_cart()[ $key ] );
		$this->assertSame( array(), apply_filters( 'woocommerce_get_item_data', array(), WC()->cart->get_cart()[ $key ] ) );
	}

	public function test_two_designs_of_one_product_stay_two_lines() {
		$id = $this->spiff_product();
		$k1 = $this->add_design( $id, self::T1 );
		$k2 = $this->add_design( $id, self::T2 );
		$k3 = $this->add_design( $id, self::T1 );
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
		$key    = $this->add_design( $id, self::T1 );
		$stored = WC()->cart->get_cart_for_session();
		// A tampered session entry is dropped.
		$stored['tampered']                = $stored[ $key ];
		$stored['tampered']['printbridge'] = array( 'provider' => 'spiff', 'design_id' => 'x' );
		WC()->cart->empty_cart();
		WC()->session->set( 'cart', $stored );
		WC()->cart->get_cart_from_session();
		$cart = WC()->cart->get_cart();
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T1 ), $cart[ $key ]['printbridge'] );
		$this->assertArrayNotHasKey( 'printbridge', $cart['tampered'] );
		$rows = apply_filters( 'woocommerce_get_item_data', array(), $cart[ $key ] );
		$this->assertSame( 'Personalised design', $rows[0]['key'] );
		$this->assertSame( 'Spiff · e3ac7f3a', $rows[0]['value'] );
	}

	public function test_order_line_items_get_the_contract_meta_key() {
		$spiff = $this->spiff_product();
		$k2p   = $this->product( array( '_printbridge_provider' => 'key2print' ) );
		$plain = $this->product();
		$this->add_design( $spiff, self::T1 );
		$this->add_design( $k2p, 'proj_42-A' );
		$this->form_add_to_cart( $plain, array( 'quantity' => '1' ) );

		// WooCommerce's checkout creates the order from the cart; read it back from the database.
		$order_id = WC()->checkout()->create_order( array( 'payment_method' => 'cod', 'billing_email' => 'ann@example.org' ) );
		$this->assertIsInt( $order_id );
		$items = array_values( wc_get_order( $order_id )->get_items() );
		$this->assertCount( 3, $items );
		list( $a, $b, $c ) = $items;
		$this->assertSame( self::T1, $a->get_meta( '_printbridge_spiff_transaction_id' ) );
		$this->assertSame( '', $a->get_meta( '_printbridge_key2print_project_id' ) );
		$this->assertSame( 'proj_42-A', $b->get_meta( '_printbridge_key2print_project_id' ) );
		$this->assertSame( array(), $c->get_meta_data() );
	}

	public function test_internal_keys_are_hidden_from_customers_and_labelled_for_the_admin() {
		$order = wc_create_order();
		$item  = new WC_Order_Item_Product();
		$item->set_product( wc_get_product( $this->product() ) );
		$item->add_meta_data( '_printbridge_spiff_transaction_id', self::T1, true );
		$item->add_meta_data( 'Size', 'A4' );
		$order->add_item( $item );
		$order->save();
		$item = WC_Order_Factory::get_order_item( $item->get_id() );
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
		list( $parent, $variations ) = $this->variable_product( array( '_printbridge_provider' => 'spiff', '_printbridge_spiff_integration_product_id' => 'ip-1' ) );
		$this->assertSame( 'spiff', PrintBridge_Product_Settings::provider( $variations['A4'] ) );
		$form = array( 'quantity' => '1', 'variation_id' => (string) $variations['A4'], 'attribute_size' => 'A4', 'printbridge_nonce' => wp_create_nonce( PrintBridge_Cart::nonce_action( $parent ) ) );
		$this->assertFalse( $this->form_add_to_cart( $parent, $form ) );
		$this->assertSame( array( 'Please personalise this product before adding it to the cart.' ), self::notices() );
		wc_clear_notices();
		$key  = $this->form_add_to_cart( $parent, $form + array( 'printbridge_design_id' => self::T1 ) );
		$item = WC()->cart->get_cart()[ $key ];
		$this->assertSame( $variations['A4'], $item['variation_id'] );
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T1 ), $item['printbridge'] );
	}

	public function test_items_without_their_design_block_checkout() {
		$id  = $this->product();
		$key = $this->form_add_to_cart( $id, array( 'quantity' => '1' ) );
		do_action( 'woocommerce_check_cart_items' );
		$this->assertSame( array(), self::notices() );

		// The product becomes personalised after the item was added.
		update_post_meta( $id, '_printbridge_provider', 'key2print' );
		do_action( 'woocommerce_check_cart_items' );
		$this->assertSame( array( '"Card" needs a personalised design. Please remove it from the cart and personalise it again.' ), self::notices() );
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
