<?php
// phpcs:ignoreFile

/**
 * The cart charges the price the Key2print editor showed: the setup goes to the bridge's
 * `POST /key2print/price` (answered here by a double through pre_http_request) and its
 * `line_price` becomes the cart line's price; the price-tree path follows the line to the order.
 */
class CartPriceTest extends PrintBridge_TestCase {

	const SETUP = '{"pa_format":"a5","speed":"express","2":3}';

	/** What the bridge answers for an Express + Self collection setup in a shop that enters
	 * prices without tax (the test shop): `line_price` is the net. */
	private static function priced( $line_price = 39.1 ) {
		return array(
			'product_id'   => 1,
			'variation_id' => null,
			'net'          => $line_price,
			'gross'        => round( $line_price * 1.2, 2 ),
			'tax'          => round( $line_price * 0.2, 2 ),
			'tax_rate'     => 'VAT',
			'currency'     => 'EUR',
			'line_price'   => $line_price,
			'price_path'   => array(
				array( 'option_id' => 'speed', 'option_name' => 'Production time', 'value_id' => 'express', 'value_name' => 'Express' ),
				array( 'option_id' => '2', 'option_name' => 'Delivery', 'value_id' => '3', 'value_name' => 'Self collection' ),
			),
			'available'    => true,
		);
	}

	/** The bridge double answers the price route with `$status` and `$body`. */
	private function bridge_answers( $status, $body ) {
		$this->connect();
		$this->responder = function ( $url ) use ( $status, $body ) {
			if ( 'https://bridge.test/v1/stores/shop/key2print/price' !== $url ) {
				return new WP_Error( 'http_request_failed', 'unexpected ' . $url );
			}
			return self::response( $status, $body );
		};
	}

	private function k2p_product( $gateway = 'yes' ) {
		return $this->product( array( '_printbridge_provider' => 'key2print', '_printbridge_key2print_gateway' => $gateway ) );
	}

	/** The product form's add to cart with a design and the editor's setup. */
	private function add( $product_id, $setup = self::SETUP, array $extra = array() ) {
		return $this->form_add_to_cart(
			$product_id,
			$extra + array(
				'quantity'              => '2',
				'printbridge_design_id' => 'proj_42-A',
				'printbridge_nonce'     => wp_create_nonce( PrintBridge_Cart::nonce_action( $product_id ) ),
				// As a browser posts it: WordPress adds slashes to $_POST.
				'printbridge_k2p_setup' => wp_slash( $setup ),
			)
		);
	}

	/** The JSON bodies sent to the bridge's price route. */
	private function price_requests() {
		$out = array();
		foreach ( $this->requests as $r ) {
			if ( str_ends_with( $r['url'], '/key2print/price' ) ) {
				$this->assertSame( 'Bearer tok_secret_123', $r['args']['headers']['Authorization'] );
				$out[] = json_decode( $r['args']['body'], true );
			}
		}
		return $out;
	}

	public function test_the_line_is_charged_the_bridges_price() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		$key = $this->add( $id );
		$this->assertIsString( $key, implode( ' ', self::notices() ) );
		$this->assertSame( array( array( 'product_id' => $id, 'setup' => array( '2' => '3', 'pa_format' => 'a5', 'speed' => 'express' ) ) ), $this->price_requests() );

		WC()->cart->calculate_totals();
		$item = WC()->cart->get_cart()[ $key ];
		$this->assertSame( 39.1, (float) $item['data']->get_price() );
		$this->assertEqualsWithDelta( 78.2, (float) $item['line_subtotal'], 0.001 );
		$this->assertEqualsWithDelta( 78.2, (float) WC()->cart->get_subtotal(), 0.001 );

		// The rows on the cart and checkout name the choices in words.
		$rows = apply_filters( 'woocommerce_get_item_data', array(), $item );
		$this->assertSame(
			array( 'Personalised design', 'Production time', 'Delivery' ),
			array_column( $rows, 'key' )
		);
		$this->assertSame( array( 'Key2print · proj_42-', 'Express', 'Self collection' ), array_column( $rows, 'value' ) );
	}

	public function test_with_prices_entered_with_tax_the_line_price_is_the_gross() {
		// The shop enters prices with tax and charges 20 % at its base address; the bridge then
		// answers the gross as `line_price`, which WooCommerce takes the tax out of.
		update_option( 'woocommerce_calc_taxes', 'yes' );
		update_option( 'woocommerce_prices_include_tax', 'yes' );
		update_option( 'woocommerce_tax_based_on', 'base' );
		WC_Tax::_insert_tax_rate(
			array( 'tax_rate_country' => WC()->countries->get_base_country(), 'tax_rate' => '20.0000', 'tax_rate_name' => 'VAT', 'tax_rate_priority' => 1, 'tax_rate_compound' => 0, 'tax_rate_shipping' => 1, 'tax_rate_order' => 0, 'tax_rate_class' => '' )
		);
		$id = $this->k2p_product();
		$this->bridge_answers( 200, array( 'net' => 33.33, 'gross' => 40.0, 'tax' => 6.67, 'line_price' => 40.0 ) + self::priced() );
		$key = $this->add( $id );
		$this->assertIsString( $key, implode( ' ', self::notices() ) );

		WC()->cart->calculate_totals();
		$item = WC()->cart->get_cart()[ $key ];
		$this->assertSame( 40.0, (float) $item['data']->get_price() );
		// Two at 40.00 with tax: 80.00, of which 13.33 tax (a sixth, rounded) and 66.67 net
		// (the cart keeps the net unrounded).
		$this->assertEqualsWithDelta( 13.33, (float) $item['line_tax'], 0.001 );
		$this->assertSame( '66.67', wc_format_decimal( $item['line_total'], 2 ) );
		$this->assertEqualsWithDelta( 80.0, (float) WC()->cart->get_total( 'edit' ), 0.001 );
		$this->assertEqualsWithDelta( 13.33, (float) WC()->cart->get_total_tax(), 0.001 );
	}

	public function test_the_price_survives_the_session_and_a_forged_one_is_dropped() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		$key    = $this->add( $id );
		$stored = WC()->cart->get_cart_for_session();
		$stored['forged']                                  = $stored[ $key ];
		$stored['forged']['printbridge_price']['line_price'] = 'free';
		WC()->cart->empty_cart();
		WC()->session->set( 'cart', $stored );
		WC()->cart->get_cart_from_session();
		$this->requests = array();
		WC()->cart->calculate_totals();
		$cart = WC()->cart->get_cart();
		$this->assertSame( 39.1, (float) $cart[ $key ]['data']->get_price() );
		$this->assertArrayNotHasKey( 'printbridge_price', $cart['forged'] );
		$this->assertSame( 10.0, (float) $cart['forged']['data']->get_price(), 'no editor price: the shop price' );
		$this->assertSame( array(), $this->price_requests(), 'the kept price is not asked for again' );
	}

	public function test_the_bridge_refusing_the_price_refuses_the_item() {
		$id = $this->k2p_product();
		$cases = array(
			array( 409, array( 'error' => 'unavailable', 'message' => 'Courier (Delivery) cannot be ordered now', 'field' => 'setup.2' ), 'cannot be ordered right now' ),
			array( 422, array( 'error' => 'price_path_incomplete', 'message' => 'the setup chooses no value of the price option "2" (Delivery)', 'field' => 'setup.2' ), 'Please choose all the options' ),
			array( 409, array( 'error' => 'tax_not_configured', 'message' => 'no tax rate configured for tax class "standard"', 'field' => 'store' ), 'could not be determined right now' ),
			array( 200, array( 'line_price' => 'cheap' ), 'could not be determined right now' ),
		);
		foreach ( $cases as list( $status, $body, $message ) ) {
			$this->bridge_answers( $status, $body );
			$this->assertFalse( $this->add( $id ), wp_json_encode( $body ) );
			$notices = self::notices();
			$this->assertCount( 1, $notices );
			$this->assertStringContainsString( $message, $notices[0] );
			$this->assertStringNotContainsString( 'tax class', $notices[0], 'the bridge\'s own words stay out of the shop' );
			wc_clear_notices();
		}
		// An unreachable bridge too.
		$this->responder = null;
		$this->assertFalse( $this->add( $id ) );
		$this->assertStringContainsString( 'could not be determined right now', self::notices()[0] );
		$this->assertSame( array(), WC()->cart->get_cart() );
	}

	public function test_a_setup_that_is_not_one_is_refused_without_asking_the_bridge() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		foreach ( array( '{"speed":["express"]}', 'speed=express', '{"speed":"' . str_repeat( 'x', 129 ) . '"}', '"express"' ) as $setup ) {
			$this->assertFalse( $this->add( $id, $setup ), $setup );
			$this->assertStringContainsString( 'could not be read', self::notices()[0] );
			wc_clear_notices();
		}
		$this->assertSame( array(), $this->price_requests() );
	}

	public function test_products_the_editor_does_not_price_keep_the_shop_price() {
		$this->bridge_answers( 200, self::priced() );
		$id  = $this->k2p_product( 'no' );
		$key = $this->add( $id );
		$this->assertIsString( $key );
		WC()->cart->calculate_totals();
		$this->assertSame( 10.0, (float) WC()->cart->get_cart()[ $key ]['data']->get_price() );
		$this->assertSame( array(), $this->price_requests() );
		$this->assertStringNotContainsString( 'printbridge_k2p_setup', self::product_form( $id ) );
		$this->assertStringContainsString( 'name="printbridge_k2p_setup"', self::product_form( $this->k2p_product() ) );
	}

	public function test_a_variation_is_priced_as_itself() {
		list( $parent, $variations ) = $this->variable_product( array( '_printbridge_provider' => 'key2print', '_printbridge_key2print_gateway' => 'yes' ) );
		$this->bridge_answers( 200, array( 'variation_id' => $variations['A4'] ) + self::priced( 25.5 ) );
		// The editor last said A5; the line is the A4 variation, whose value stands.
		$key = $this->add( $parent, '{"size":"A5","speed":"standard"}', array( 'variation_id' => (string) $variations['A4'], 'attribute_size' => 'A4' ) );
		$this->assertIsString( $key, implode( ' ', self::notices() ) );
		$this->assertSame( array( array( 'product_id' => $parent, 'setup' => array( 'size' => 'A4', 'speed' => 'standard' ), 'variation_id' => $variations['A4'] ) ), $this->price_requests() );
		WC()->cart->calculate_totals();
		$this->assertSame( 25.5, (float) WC()->cart->get_cart()[ $key ]['data']->get_price() );
	}

	public function test_the_path_is_on_the_order_item_in_words() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		$this->add( $id );
		$order_id = WC()->checkout()->create_order( array( 'payment_method' => 'cod', 'billing_email' => 'ann@example.org' ) );
		$this->assertIsInt( $order_id );
		$order = wc_get_order( $order_id );
		$item  = array_values( $order->get_items() )[0];
		$this->assertSame( 'Express', $item->get_meta( 'Production time' ) );
		$this->assertSame( 'Self collection', $item->get_meta( 'Delivery' ) );
		$this->assertSame( array( '2' => '3', 'pa_format' => 'a5', 'speed' => 'express' ), json_decode( $item->get_meta( '_printbridge_key2print_setup' ), true ) );
		$this->assertEqualsWithDelta( 78.2, (float) $item->get_subtotal(), 0.001 );
		$this->assertEqualsWithDelta( 78.2, (float) $order->get_total(), 0.001 );

		// The order screens, the thank-you page and the e-mails show the formatted meta.
		$shown = array();
		foreach ( $item->get_formatted_meta_data() as $m ) {
			$shown[ $m->display_key ] = wp_strip_all_tags( $m->display_value );
		}
		$this->assertSame( array( 'Production time' => 'Express', 'Delivery' => 'Self collection' ), array_map( 'trim', $shown ) );
		$this->assertContains( '_printbridge_key2print_setup', apply_filters( 'woocommerce_hidden_order_itemmeta', array() ) );
		$email = wc_display_item_meta( $item, array( 'echo' => false ) );
		$this->assertStringContainsString( 'Production time', $email );
		$this->assertStringContainsString( 'Express', $email );
	}

	public function test_the_store_api_prices_the_setup_and_carries_the_path() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		list( $code, $cart ) = self::store_api(
			'POST',
			'cart/add-item',
			array( 'id' => $id, 'quantity' => 1, 'extensions' => array( 'printbridge' => array( 'design_id' => 'p-9', 'setup' => array( 'speed' => 'express', '2' => 3 ) ) ) )
		);
		$this->assertSame( 201, $code, wp_json_encode( $cart ) );
		$item = $cart['items'][0];
		$this->assertSame(
			array(
				'personalised' => true,
				'provider'     => 'key2print',
				'design_id'    => 'p-9',
				'edit_url'     => add_query_arg( 'printbridge_edit', $item['key'], get_permalink( $id ) ),
				'price_path'   => array( array( 'option' => 'Production time', 'value' => 'Express' ), array( 'option' => 'Delivery', 'value' => 'Self collection' ) ),
				'line_price'   => 39.1,
			),
			$item['extensions']['printbridge']
		);
		$this->assertSame( '3910', $item['prices']['price'] );
		$this->assertSame( array( array( 'product_id' => $id, 'setup' => array( '2' => '3', 'speed' => 'express' ) ) ), $this->price_requests() );

		// Refused by the bridge: a 400 with the plain message, no line.
		WC()->cart->empty_cart();
		$this->bridge_answers( 409, array( 'error' => 'unavailable', 'message' => 'x', 'field' => 'setup' ) );
		list( $code, $error ) = self::store_api( 'POST', 'cart/add-item', array( 'id' => $id, 'quantity' => 1, 'printbridge_design_id' => 'p-9', 'printbridge_k2p_setup' => '{"speed":"express"}' ) );
		$this->assertSame( 400, $code, wp_json_encode( $error ) );
		$this->assertSame( 'printbridge_price_unavailable', $error['code'] );
		$this->assertStringContainsString( 'cannot be ordered right now', $error['message'] );
		$this->assertSame( array(), WC()->cart->get_cart() );
	}

	/** "Edit design" finished: the editor's design and latest setup go to the line. */
	private function reopen_update( $product_id, $key, $setup, $design = 'proj_43-B' ) {
		$_POST = $_REQUEST = array(
			'nonce'      => wp_create_nonce( PrintBridge_Cart_Reopen::AJAX_UPDATE ),
			'product_id' => (string) $product_id,
			'cart_item'  => $key,
			'design_id'  => $design,
		) + ( null === $setup ? array() : array( 'printbridge_k2p_setup' => wp_slash( $setup ) ) );
		$this->requests     = array();
		list( $json, $raw ) = printbridge_run_ajax( array( 'PrintBridge_Cart_Reopen', 'ajax_update' ) );
		$_POST = $_REQUEST = array();
		$this->assertIsArray( $json, $raw );
		return $json;
	}

	/** What the bridge answers for a Standard + Self collection setup. */
	private static function priced_standard() {
		$answer                                = self::priced( 29.0 );
		$answer['price_path'][0]['value_id']   = 'standard';
		$answer['price_path'][0]['value_name'] = 'Standard';
		return $answer;
	}

	public function test_a_reopened_line_is_charged_the_price_of_the_editors_new_setup() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		$key   = $this->add( $id );
		$other = $this->add( $id, '{"speed":"express","2":3}', array( 'printbridge_design_id' => 'proj_9' ) );
		$this->assertIsString( $key );
		$this->requests = array();

		// The editor's page starts from the line's setup.
		$_GET[ PrintBridge_Cart_Reopen::QUERY_ARG ] = $key;
		$config = PrintBridge_Product_Page::config( wc_get_product( $id ) );
		unset( $_GET[ PrintBridge_Cart_Reopen::QUERY_ARG ] );
		$this->assertSame( '{"2":"3","pa_format":"a5","speed":"express"}', wp_json_encode( $config['key2print']['setup'] ) );

		$this->bridge_answers( 200, self::priced_standard() );
		$json = $this->reopen_update( $id, $key, '{"pa_format":"a5","speed":"standard","2":"3"}' );
		$this->assertTrue( $json['success'], wp_json_encode( $json ) );
		$this->assertSame( array( array( 'product_id' => $id, 'setup' => array( '2' => '3', 'pa_format' => 'a5', 'speed' => 'standard' ) ) ), $this->price_requests() );

		$cart = WC()->cart->get_cart();
		$this->assertCount( 2, $cart, 'the same line, no second one' );
		$line = $cart[ $key ];
		$this->assertSame( 'proj_43-B', $line['printbridge']['design_id'] );
		$this->assertSame( 2, $line['quantity'] );
		$this->assertSame( 29.0, (float) $line['data']->get_price() );
		$this->assertEqualsWithDelta( 58.0, (float) $line['line_subtotal'], 0.001 );
		$this->assertSame( array( 'Express', 'Self collection' ), array_column( PrintBridge_Cart_Price::price_of( $cart[ $other ] )['path'], 'value' ), 'the other line keeps its path' );
		$this->assertSame( array( 'Standard', 'Self collection' ), array_column( PrintBridge_Cart_Price::price_of( $line )['path'], 'value' ) );

		// A cart loaded again from the session charges the new price and carries the new setup.
		$stored = WC()->session->get( 'cart' );
		$this->assertSame( 'proj_43-B', $stored[ $key ]['printbridge']['design_id'] );
		$this->assertSame( 29.0, $stored[ $key ]['printbridge_price']['line_price'] );
		WC()->cart->empty_cart( false );
		WC()->session->set( 'cart', $stored );
		WC()->cart->get_cart_from_session();
		WC()->cart->calculate_totals();
		$this->assertSame( 29.0, (float) WC()->cart->get_cart()[ $key ]['data']->get_price() );
		$this->assertSame( 39.1, (float) WC()->cart->get_cart()[ $other ]['data']->get_price() );

		$order_id = WC()->checkout()->create_order( array( 'payment_method' => 'cod', 'billing_email' => 'ann@example.org' ) );
		$items    = array_values( wc_get_order( $order_id )->get_items() );
		$this->assertSame( 'Standard', $items[0]->get_meta( 'Production time' ) );
		$this->assertSame( array( '2' => '3', 'pa_format' => 'a5', 'speed' => 'standard' ), json_decode( $items[0]->get_meta( '_printbridge_key2print_setup' ), true ) );
	}

	public function test_a_reopened_line_the_bridge_cannot_price_stays_as_it_was() {
		$id = $this->k2p_product();
		$this->bridge_answers( 200, self::priced() );
		$key = $this->add( $id );
		$this->assertIsString( $key );
		WC()->cart->calculate_totals();
		$before = WC()->cart->get_cart_for_session();
		$cases  = array(
			array( 409, array( 'error' => 'unavailable', 'message' => 'Courier cannot be ordered now', 'field' => 'setup.2' ), 'cannot be ordered right now, so your cart was not changed' ),
			array( 422, array( 'error' => 'price_path_incomplete', 'message' => 'no value of "2"', 'field' => 'setup.2' ), 'Please choose all the options' ),
			array( 409, array( 'error' => 'tax_not_configured', 'message' => 'no tax rate configured for tax class "standard"', 'field' => 'store' ), 'could not be determined right now' ),
			array( 200, array( 'line_price' => 'cheap' ), 'could not be determined right now' ),
		);
		foreach ( $cases as list( $status, $body, $message ) ) {
			$this->bridge_answers( $status, $body );
			$json = $this->reopen_update( $id, $key, '{"speed":"standard","2":"3"}' );
			$this->assertFalse( $json['success'], wp_json_encode( $body ) );
			$this->assertStringContainsString( $message, $json['data']['message'] );
			$this->assertStringContainsString( 'your cart was not changed', $json['data']['message'] );
			$this->assertStringNotContainsString( 'tax class', $json['data']['message'] );
			$this->assertCount( 1, $this->price_requests() );
		}
		// A setup that is not one, or none at all: refused without asking the bridge.
		foreach ( array( '{"speed":["x"]}', null ) as $setup ) {
			$this->bridge_answers( 200, self::priced_standard() );
			$json = $this->reopen_update( $id, $key, $setup );
			$this->assertFalse( $json['success'] );
			$this->assertStringContainsString( 'could not be read', $json['data']['message'] );
			$this->assertSame( array(), $this->price_requests() );
		}
		// Someone else's line: nothing is priced, nothing changes.
		$json = $this->reopen_update( $id, md5( 'someone else' ), '{"speed":"standard","2":"3"}' );
		$this->assertFalse( $json['success'] );
		$this->assertSame( 'This design is not in your cart.', $json['data']['message'] );
		$this->assertSame( array(), $this->price_requests() );

		$this->assertSame( $before, WC()->cart->get_cart_for_session() );
		$this->assertSame( $before, WC()->session->get( 'cart' ) );
		WC()->cart->calculate_totals();
		$this->assertSame( 39.1, (float) WC()->cart->get_cart()[ $key ]['data']->get_price() );
	}

	public function test_a_reopened_variation_keeps_its_variant_and_takes_the_new_price() {
		list( $parent, $variations ) = $this->variable_product( array( '_printbridge_provider' => 'key2print', '_printbridge_key2print_gateway' => 'yes' ) );
		$this->bridge_answers( 200, array( 'variation_id' => $variations['A4'] ) + self::priced( 25.5 ) );
		$key = $this->add( $parent, '{"size":"A4","speed":"express"}', array( 'variation_id' => (string) $variations['A4'], 'attribute_size' => 'A4' ) );
		$this->assertIsString( $key, implode( ' ', self::notices() ) );
		$before = WC()->cart->get_cart_for_session();

		// The editor chose the A5 variant: the line is the A4 variation, so it is not changed.
		$this->bridge_answers( 200, array( 'variation_id' => $variations['A5'] ) + self::priced( 12.0 ) );
		$json = $this->reopen_update( $parent, $key, '{"size":"A5","speed":"express"}' );
		$this->assertFalse( $json['success'] );
		$this->assertStringContainsString( 'another variant of this product, so your cart was not changed', $json['data']['message'] );
		$this->assertSame( array(), $this->price_requests() );
		$this->assertSame( $before, WC()->cart->get_cart_for_session() );

		// Another price-tree choice on the same variant: priced as that variation.
		$this->bridge_answers( 200, array( 'variation_id' => $variations['A4'] ) + self::priced_standard() );
		$json = $this->reopen_update( $parent, $key, '{"size":"A4","speed":"standard"}' );
		$this->assertTrue( $json['success'], wp_json_encode( $json ) );
		$this->assertSame( array( array( 'product_id' => $parent, 'setup' => array( 'size' => 'A4', 'speed' => 'standard' ), 'variation_id' => $variations['A4'] ) ), $this->price_requests() );
		$this->assertSame( 29.0, (float) WC()->cart->get_cart()[ $key ]['data']->get_price() );
		$this->assertSame( $variations['A4'], WC()->cart->get_cart()[ $key ]['variation_id'] );
	}

	/** The PrintBridge fields printed into a product's add-to-cart form. */
	private static function product_form( $id ) {
		ob_start();
		PrintBridge_Product_Page::render_fields( wc_get_product( $id ) );
		return ob_get_clean();
	}
}
