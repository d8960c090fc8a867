<?php
// phpcs:ignoreFile

/**
 * The block cart and checkout: WooCommerce's Store API routes, called through WordPress' REST server.
 */
class StoreApiTest extends PrintBridge_TestCase {

	const T1 = 'e3ac7f3a-a117-46d7-a5f0-232fbc7cfe38';

	/** POST cart/add-item: [status, data]. */
	private static function add_item( array $params ) {
		return self::store_api( 'POST', 'cart/add-item', $params );
	}

	/** The cart item of a product in a Store API cart answer. */
	private static function item_of( array $cart, $product_id ) {
		foreach ( $cart['items'] as $item ) {
			if ( $product_id === $item['id'] ) {
				return $item;
			}
		}
		throw new RuntimeException( "no item of product $product_id" );
	}

	public function test_cart_items_carry_extensions_printbridge() {
		$id                 = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		list( $code, $cart ) = self::add_item( array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => self::T1 ) );
		$this->assertSame( 201, $code, wp_json_encode( $cart ) );
		$this->assertSame( array( 'personalised' => true, 'provider' => 'spiff', 'design_id' => self::T1, 'edit_url' => null, 'price_path' => array(), 'line_price' => null ), self::item_of( $cart, $id )['extensions']['printbridge'] );

		// The cart route shows the same, as does the item's "Personalised design" row.
		list( $code, $cart ) = self::store_api( 'GET', 'cart' );
		$this->assertSame( 200, $code );
		$item = self::item_of( $cart, $id );
		$this->assertSame( array( 'personalised' => true, 'provider' => 'spiff', 'design_id' => self::T1, 'edit_url' => null, 'price_path' => array(), 'line_price' => null ), $item['extensions']['printbridge'] );
		$this->assertSame( array( array( 'key' => 'Personalised design', 'value' => 'Spiff · e3ac7f3a', 'display' => '' ) ), $item['item_data'] );
		$this->assertSame( array( 'provider' => 'spiff', 'design_id' => self::T1 ), WC()->cart->get_cart()[ $item['key'] ]['printbridge'] );

	}

	public function test_add_item_accepts_the_extensions_form() {
		$id                  = $this->product( array( '_printbridge_provider' => 'key2print' ) );
		list( $code, $cart ) = self::add_item( array( 'id' => $id, 'quantity' => 3, 'extensions' => array( 'printbridge' => array( 'design_id' => 'p-9' ) ) ) );
		$this->assertSame( 201, $code, wp_json_encode( $cart ) );
		$item = self::item_of( $cart, $id );
		$this->assertSame( 3, $item['quantity'] );
		$edit = add_query_arg( 'printbridge_edit', $item['key'], get_permalink( $id ) );
		$this->assertSame( array( 'personalised' => true, 'provider' => 'key2print', 'design_id' => 'p-9', 'edit_url' => $edit, 'price_path' => array(), 'line_price' => null ), $item['extensions']['printbridge'] );
	}

	public function test_add_item_without_a_well_formed_design_is_a_400() {
		$id = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		foreach ( array( array(), array( 'printbridge_design_id' => 'nope' ), array( 'printbridge_design_id' => 42 ) ) as $extra ) {
			list( $code, $error ) = self::add_item( array( 'id' => $id, 'quantity' => 1 ) + $extra );
			$this->assertSame( 400, $code, wp_json_encode( $extra ) );
			$this->assertSame( 'printbridge_design_required', $error['code'] );
			$this->assertSame( 'Please personalise this product before adding it to the cart.', $error['message'] );
		}
		$this->assertSame( array(), WC()->cart->get_cart() );
	}

	public function test_block_checkout_writes_the_line_item_meta() {
		$id = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		$this->assertSame( 201, self::add_item( array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => self::T1 ) )[0] );
		$this->assertSame( 201, self::add_item( array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => strtoupper( self::T1 ) ) )[0] );
		$address              = array( 'first_name' => 'Ann', 'last_name' => 'Lee', 'address_1' => 'Rue Haute 5', 'city' => 'Brussels', 'postcode' => '1000', 'country' => 'BE', 'email' => 'ann@example.org', 'phone' => '' );
		list( $code, $result ) = self::store_api(
			'POST',
			'checkout',
			array(
				'billing_address'  => $address,
				'shipping_address' => array_diff_key( $address, array( 'email' => 1 ) ),
				'payment_method'   => 'cod',
			)
		);
		$this->assertSame( 200, $code, wp_json_encode( $result ) );
		$items = array_values( wc_get_order( $result['order_id'] )->get_items() );
		$this->assertCount( 2, $items );
		$this->assertSame( self::T1, $items[0]->get_meta( '_printbridge_spiff_transaction_id' ) );
		$this->assertSame( strtoupper( self::T1 ), $items[1]->get_meta( '_printbridge_spiff_transaction_id' ) );
	}

	public function test_block_checkout_refuses_an_item_without_its_design() {
		$id = $this->product();
		$this->assertSame( 201, self::add_item( array( 'id' => $id, 'quantity' => 1 ) )[0] );
		update_post_meta( $id, '_printbridge_provider', 'key2print' ); // Personalised after it was added.
		list( $code, $cart ) = self::store_api( 'GET', 'cart' );
		$this->assertSame( 200, $code );
		$this->assertSame( 'printbridge_design_missing', $cart['errors'][0]['code'] ?? null, wp_json_encode( $cart['errors'] ) );
	}

	public function test_classic_validation_stands_aside_for_store_api_requests() {
		$id = $this->product( array( '_printbridge_provider' => 'spiff' ) );
		$this->assertFalse( PrintBridge_Cart::validate_add_to_cart( true, $id ) );
		wc_clear_notices();
		$_SERVER['REQUEST_URI'] = '/wp-json/wc/store/v1/cart/add-item';
		try {
			// The Store API hooks validate instead (see above); no classic notice is added.
			$this->assertTrue( PrintBridge_Cart::validate_add_to_cart( true, $id ) );
			$this->assertSame( array(), wc_get_notices() );
		} finally {
			$_SERVER['REQUEST_URI'] = '/';
		}
	}

	public function test_plain_products_pass_the_store_api_untouched() {
		$id                  = $this->product();
		list( $code, $cart ) = self::add_item( array( 'id' => $id, 'quantity' => 1 ) );
		$this->assertSame( 201, $code );
		$item = self::item_of( $cart, $id );
		$this->assertSame( array( 'personalised' => false, 'provider' => null, 'design_id' => null, 'edit_url' => null, 'price_path' => array(), 'line_price' => null ), $item['extensions']['printbridge'] );
		$this->assertArrayNotHasKey( 'printbridge', WC()->cart->get_cart()[ $item['key'] ] );
	}
}
