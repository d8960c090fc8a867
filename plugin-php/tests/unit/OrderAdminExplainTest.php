<?php
// phpcs:ignoreFile

/**
 * The order screen's explanations of the jobs the bridge parked (needs-review) or gave up on
 * (dead), from the reasons the bridge writes.
 */
class OrderAdminExplainTest extends PrintBridge_TestCase {

	const TX = '7c1e0a52-3f4b-4d6e-9a8b-1c2d3e4f5a6b';

	/** A real order with one Spiff line item. */
	private function spiff_order() {
		$order = wc_create_order();
		$item  = new WC_Order_Item_Product();
		$item->set_product( wc_get_product( $this->product( array( '_printbridge_provider' => 'spiff' ) ) ) );
		$item->set_quantity( 1 );
		$item->add_meta_data( PrintBridge_Design_Id::META_SPIFF, self::TX, true );
		$order->add_item( $item );
		$order->save();
		return $order->get_id();
	}

	private static function job( $provider, $state, $reason, $attempts = 1 ) {
		return array( 'provider' => $provider, 'target' => 'order', 'state' => $state, 'provider_order_id' => null, 'attempts' => $attempts, 'last_error' => $reason, 'next_attempt_at' => null, 'file_id' => null, 'tracking' => array() );
	}

	private static function view( array $jobs, array $attention = array() ) {
		return array( 'store' => 'shop', 'order_id' => 42, 'status' => 'processing', 'paid' => true, 'provider_orders' => $jobs, 'attention' => $attention );
	}

	/** The text of the explanation blocks of a rendered box, tags stripped, entities decoded. */
	private static function explanations( $html ) {
		preg_match_all( '#<div class="notice notice-(?:warning|error) inline printbridge-explain printbridge-explain-(review|dead)">(.*?)</div>#s', $html, $m, PREG_SET_ORDER );
		return array_map(
			static function ( $match ) {
				return array( $match[1], html_entity_decode( wp_strip_all_tags( str_replace( '</p><p>', "</p>\n<p>", $match[2] ) ), ENT_QUOTES ) );
			},
			$m
		);
	}

	public function test_spiff_interrupted_after_sending_says_to_check_the_spiff_hub_first() {
		$order_id = $this->spiff_order();
		$reason   = 'an earlier attempt was interrupted after its order request was handed to Spiff (2026-12-07T09:00:00Z), before its answer was recorded (the bridge stopped, or could not reach its database); Spiff documents no way to ask whether it created the order: check the Spiff hub for transactions ' . self::TX . ', then replay only if no order exists';
		$html     = PrintBridge_Order_Admin::render_view( $order_id, self::view( array( self::job( 'spiff', 'needs-review', $reason ) ), array( 'spiff needs-review: ' . $reason, 'PrintBridge: Spiff needs review: ' . $reason ) ) );

		$this->assertSame(
			array(
				array(
					'review',
					"Spiff: check before retrying\n"
					. "PrintBridge was stopped while it was sending this order to Spiff: the request had already left, but the answer was never recorded. Spiff may or may not have created the order.\n"
					. 'What to do: Check your Spiff dashboard for this order before you press Retry. If the order is there, do not retry: it would be made twice. If it is not there, press Retry. Look for these transactions: ' . self::TX . '.',
				),
			),
			self::explanations( $html )
		);
		// The bridge's own wording of the same job is not repeated as "Needs attention".
		$this->assertStringNotContainsString( 'printbridge-attention', $html );
		// Retry stays.
		$this->assertStringContainsString( 'class="button printbridge-retry" data-order-id="' . $order_id . '"', $html );
	}

	public function test_spiff_unclear_answer_says_spiff_may_have_the_order() {
		$order_id = $this->spiff_order();
		$reason   = 'Spiff create order: timed out; Spiff may have received the request and created the order. Spiff documents no way to ask whether it created the order: check the Spiff hub for transactions ' . self::TX . ', then replay only if no order exists';
		$found    = self::explanations( PrintBridge_Order_Admin::render_view( $order_id, self::view( array( self::job( 'spiff', 'needs-review', $reason ) ) ) ) );
		$this->assertCount( 1, $found );
		$this->assertStringContainsString( 'Spiff gave no clear answer when PrintBridge sent this order (the connection broke or timed out, or it reported an error of its own). It may have received the request and created the order.', $found[0][1] );
		$this->assertStringContainsString( 'If the order is there, do not retry', $found[0][1] );
	}

	public function test_apliiq_lookup_kept_failing_names_the_order_to_look_for() {
		$reason = 'an earlier attempt may have placed the order, and looking up Apliiq order 42 kept failing: check Apliiq for order 42 before replaying (asked 5 times; last: Apliiq find order: connection refused; looked up again later)';
		$found  = self::explanations( PrintBridge_Order_Admin::render_view( 42, self::view( array( self::job( 'apliiq', 'needs-review', $reason, 5 ) ) ) ) );
		$this->assertSame(
			array(
				array(
					'review',
					"Apliiq: check before retrying\n"
					. "An earlier attempt may have placed this order with Apliiq, and PrintBridge could not find out: asking Apliiq about the order kept failing.\n"
					. 'What to do: Check your Apliiq dashboard for this order before you press Retry. If the order is there, do not retry: it would be made twice. If it is not there, press Retry. Look for order 42.',
				),
			),
			$found
		);
	}

	public function test_dead_jobs_say_retrying_is_safe_and_what_to_fix() {
		$jobs  = array(
			self::job( 'apliiq', 'dead', 'gave up after 8 attempts: Apliiq create order: connection refused', 8 ),
			self::job( 'key2print', 'dead', 'Key2print is not configured for this store (key2print missing); configure it and replay the job' ),
			self::job( 'spiff', 'dead', 'Spiff create order: HTTP 422: the address has no country' ),
		);
		$found = self::explanations( PrintBridge_Order_Admin::render_view( 42, self::view( $jobs ) ) );
		$this->assertSame(
			array(
				array(
					'dead',
					"Apliiq: failed, safe to retry\n"
					. "PrintBridge could not get through to Apliiq: it was unreachable or busy each time, and PrintBridge stopped after 8 attempts.\n"
					. 'What to do: Apliiq did not act on the request, so retrying is safe. Press Retry; if Apliiq is still unavailable, PrintBridge keeps trying for a while.',
				),
				array(
					'dead',
					"Key2print: failed, safe to retry\n"
					. "Key2print is not set up for this store in PrintBridge, so nothing was sent to it.\n"
					. 'What to do: Key2print did not act on the request, so retrying is safe. Ask whoever runs your PrintBridge bridge to set up Key2print, then press Retry.',
				),
				array(
					'dead',
					"Spiff: failed, safe to retry\n"
					. "Spiff refused the request; its answer is shown under State above.\n"
					. "What to do: Spiff did not act on the request, so retrying is safe. Fix what the answer points at (for example the shipping address or the product's PrintBridge settings), then press Retry.",
				),
			),
			$found
		);
	}

	public function test_other_states_get_no_explanation_and_other_attention_stays() {
		$jobs = array(
			self::job( 'spiff', 'done', null ),
			self::job( 'apliiq', 'retrying', 'Apliiq create order: HTTP 503' ),
		);
		$html = PrintBridge_Order_Admin::render_view( 42, self::view( $jobs, array( 'PrintBridge: Apliiq accepted the order but holds it: out of stock' ) ) );
		$this->assertSame( array(), self::explanations( $html ) );
		$this->assertStringContainsString( '<li>PrintBridge: Apliiq accepted the order but holds it: out of stock</li>', $html );
	}

	public function test_explanations_are_escaped() {
		$html = PrintBridge_Order_Admin::render_view( 42, self::view( array( self::job( '<img src=x onerror=alert(1)>', 'needs-review', '<script>alert(1)</script>' ) ) ) );
		$this->assertStringNotContainsString( '<img', $html );
		$this->assertStringNotContainsString( '<script>', $html );
		$found = self::explanations( $html );
		$this->assertCount( 1, $found );
		$this->assertStringContainsString( 'cannot tell whether <img src=x onerror=alert(1)> received this order', $found[0][1] );
	}

	public function test_explanations_are_translated() {
		$filter = static function ( $translation, $text, $domain ) {
			return 'printbridge' === $domain && '%s: check before retrying' === $text ? '%s : à vérifier avant de relancer' : $translation;
		};
		add_filter( 'gettext', $filter, 10, 3 );
		$found = self::explanations( PrintBridge_Order_Admin::render_view( 42, self::view( array( self::job( 'apliiq', 'needs-review', 'x' ) ) ) ) );
		remove_filter( 'gettext', $filter, 10 );
		$this->assertStringStartsWith( "Apliiq : à vérifier avant de relancer\n", $found[0][1] );
	}
}
