<?php
/**
 * When an order goes to print: why it waits, and the owner's Send now, Hold and Approve.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * The waiting part of the order box (the bridge's reason, "goes to print at …" in the site's
 * timezone, the buttons), its AJAX action, and the bulk action "Approve for print" on the
 * orders list (HPOS and posts screens). Every call to the bridge is made server-side with
 * the store token.
 */
final class PrintBridge_Order_Actions {

	/** AJAX action: the owner's Send now, Hold or Approve on one order. */
	const AJAX_ACTION = 'printbridge_order_action';
	/** Bulk action on the orders list. */
	const BULK_APPROVE = 'printbridge_approve';
	/** The bridge's actions on an order's print jobs. */
	const ACTIONS = array( 'send-now', 'hold', 'approve' );
	/** Who may send, hold or approve an order's print jobs. */
	const CAPABILITY = 'edit_shop_orders';
	/** Most orders one bulk action approves (one bridge call each). */
	const BULK_MAX = 100;

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'wp_ajax_' . self::AJAX_ACTION, array( __CLASS__, 'ajax_order_action' ) );
		foreach ( array( 'woocommerce_page_wc-orders', 'edit-shop_order' ) as $screen ) {
			add_filter( 'bulk_actions-' . $screen, array( __CLASS__, 'bulk_actions' ) );
			add_filter( 'handle_bulk_actions-' . $screen, array( __CLASS__, 'handle_bulk_action' ), 10, 3 );
		}
		add_action( 'admin_notices', array( __CLASS__, 'bulk_notice' ) );
	}

	/**
	 * HTML of why an order's print jobs wait, with the buttons that apply (every value
	 * escaped); '' when nothing waits.
	 *
	 * @param int   $order_id Order id.
	 * @param array $view     The bridge's view of the order.
	 * @return string
	 */
	public static function render_waiting( $order_id, array $view ) {
		$wait = isset( $view['waiting'] ) && is_array( $view['waiting'] ) ? $view['waiting'] : null;
		if ( null === $wait ) {
			return '';
		}
		$reason   = isset( $wait['reason'] ) && is_string( $wait['reason'] ) ? $wait['reason'] : '';
		$print_at = isset( $wait['print_at'] ) && is_string( $wait['print_at'] ) ? strtotime( $wait['print_at'] ) : false;
		$lines    = array( self::reason_text( $order_id, $reason, $view ) );
		if ( false !== $print_at && 'payment' !== $reason ) {
			/* translators: %s: date and time in the site's timezone */
			$lines[] = sprintf( __( 'Goes to print at %s.', 'printbridge' ), wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $print_at ) );
		}
		$buttons = array();
		if ( in_array( $reason, array( 'hold', 'held' ), true ) || ! empty( $wait['held'] ) || false !== $print_at ) {
			$buttons['send-now'] = __( 'Send now', 'printbridge' );
		}
		if ( false !== $print_at ) {
			$buttons['hold'] = __( 'Hold', 'printbridge' );
		}
		if ( ! empty( $wait['awaiting_approval'] ) ) {
			$buttons['approve'] = __( 'Approve for print', 'printbridge' );
		}
		$html = '<div class="notice notice-info inline printbridge-waiting printbridge-waiting-' . esc_attr( sanitize_html_class( $reason ) ) . '">';
		foreach ( array_filter( $lines ) as $line ) {
			$html .= '<p>' . esc_html( $line ) . '</p>';
		}
		if ( $buttons && current_user_can( self::CAPABILITY ) ) {
			$html .= '<p>';
			foreach ( $buttons as $action => $label ) {
				$html .= '<button type="button" class="button printbridge-order-action" data-order-id="' . esc_attr( (string) (int) $order_id ) . '" data-action="' . esc_attr( $action ) . '">' . esc_html( $label ) . '</button> ';
			}
			$html .= '<span class="printbridge-action-result" role="status" aria-live="polite"></span></p>';
		}
		return $html . '</div>';
	}

	/**
	 * Why the order waits, in words.
	 *
	 * @param int    $order_id Order id.
	 * @param string $reason   The bridge's reason: payment, approval, held or hold.
	 * @param array  $view     The bridge's view of the order.
	 * @return string
	 */
	private static function reason_text( $order_id, $reason, array $view ) {
		switch ( $reason ) {
			case 'payment':
				$statuses = isset( $view['waiting']['paid_statuses'] ) && is_array( $view['waiting']['paid_statuses'] ) ? array_filter( $view['waiting']['paid_statuses'], 'is_string' ) : array();
				$names    = array_map( array( __CLASS__, 'status_name' ), $statuses );
				return sprintf(
					/* translators: 1: payment method, 2: order statuses, e.g. "Completed" */
					__( 'Waiting for payment: orders paid with %1$s go to print when they are %2$s.', 'printbridge' ),
					self::payment_method_name( $order_id, $view ),
					implode( ' / ', $names )
				);
			case 'approval':
				return __( 'Waiting for your approval: check the design, then approve it for print.', 'printbridge' );
			case 'held':
				return __( 'Held: nothing goes to print until you send it.', 'printbridge' );
			case 'hold':
				return __( 'Waiting for the hold window, so the order can still be changed.', 'printbridge' );
		}
		return '';
	}

	/**
	 * The order's payment method as the shop names it, else the bridge's id of it.
	 *
	 * @param int   $order_id Order id.
	 * @param array $view     The bridge's view of the order.
	 * @return string
	 */
	private static function payment_method_name( $order_id, array $view ) {
		$order = function_exists( 'wc_get_order' ) ? wc_get_order( (int) $order_id ) : false;
		$title = $order ? (string) $order->get_payment_method_title() : '';
		if ( '' !== $title ) {
			return $title;
		}
		return isset( $view['payment_method'] ) && is_string( $view['payment_method'] ) ? $view['payment_method'] : '';
	}

	/**
	 * WooCommerce's name of an order status (`completed` → "Completed").
	 *
	 * @param string $status Status without the `wc-` prefix.
	 * @return string
	 */
	private static function status_name( $status ) {
		$names = function_exists( 'wc_get_order_statuses' ) ? wc_get_order_statuses() : array();
		return isset( $names[ 'wc-' . $status ] ) ? $names[ 'wc-' . $status ] : $status;
	}

	/**
	 * AJAX: the owner's Send now, Hold or Approve on one order, passed to the bridge.
	 *
	 * @return void
	 */
	public static function ajax_order_action() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to do this.', 'printbridge' ) ), 403 );
		}
		check_ajax_referer( self::AJAX_ACTION, 'nonce' );
		$order_id = isset( $_POST['order_id'] ) ? absint( wp_unslash( $_POST['order_id'] ) ) : 0;
		$action   = isset( $_POST['do'] ) ? sanitize_key( wp_unslash( $_POST['do'] ) ) : '';
		if ( ! $order_id || ! in_array( $action, self::ACTIONS, true ) ) {
			wp_send_json_error( array( 'message' => __( 'No order or action given.', 'printbridge' ) ), 400 );
		}
		$result = PrintBridge_Bridge_Client::from_settings()->order_action( $order_id, $action );
		if ( is_wp_error( $result ) ) {
			$data = $result->get_error_data();
			if ( is_array( $data ) && isset( $data['status'] ) && 409 === $data['status'] ) {
				wp_send_json_error( array( 'message' => __( 'Nothing of this order waits for that any more. Reload the page.', 'printbridge' ) ), 409 );
			}
			wp_send_json_error( array( 'message' => $result->get_error_message() ), 502 );
		}
		$n = isset( $result['jobs'] ) ? (int) $result['jobs'] : 0;
		wp_send_json_success(
			array(
				'jobs'    => $n,
				'message' => self::done_message( $action, $n ),
			)
		);
	}

	/**
	 * What an action did, in words.
	 *
	 * @param string $action One of self::ACTIONS.
	 * @param int    $n      Print jobs changed.
	 * @return string
	 */
	private static function done_message( $action, $n ) {
		if ( 'send-now' === $action ) {
			/* translators: %d: number of print jobs */
			return sprintf( _n( '%d print job goes to print now. Reload the page to see its progress.', '%d print jobs go to print now. Reload the page to see their progress.', $n, 'printbridge' ), $n );
		}
		if ( 'hold' === $action ) {
			/* translators: %d: number of print jobs */
			return sprintf( _n( '%d print job is held until you send it.', '%d print jobs are held until you send them.', $n, 'printbridge' ), $n );
		}
		/* translators: %d: number of print jobs */
		return sprintf( _n( '%d print job approved for print.', '%d print jobs approved for print.', $n, 'printbridge' ), $n );
	}

	/**
	 * Adds "Approve for print" to the orders list's bulk actions.
	 *
	 * @param array $actions Bulk actions.
	 * @return array
	 */
	public static function bulk_actions( $actions ) {
		if ( is_array( $actions ) && current_user_can( self::CAPABILITY ) && PrintBridge_Settings::is_connected() ) {
			$actions[ self::BULK_APPROVE ] = __( 'Approve for print', 'printbridge' );
		}
		return $actions;
	}

	/**
	 * Approves the chosen orders' print jobs at the bridge, at most self::BULK_MAX orders.
	 * WordPress (posts screen, `bulk-posts`) and WooCommerce (HPOS screen, `bulk-orders`)
	 * check the list's nonce before this filter runs.
	 *
	 * @param string $redirect_to Where the list goes next.
	 * @param string $action      The bulk action.
	 * @param array  $ids         Order ids.
	 * @return string
	 */
	public static function handle_bulk_action( $redirect_to, $action, $ids ) {
		if ( self::BULK_APPROVE !== $action ) {
			return $redirect_to;
		}
		$redirect_to = remove_query_arg( array( 'printbridge_approved', 'printbridge_approve_failed', 'printbridge_approve_left' ), $redirect_to );
		if ( ! current_user_can( self::CAPABILITY ) || ! PrintBridge_Settings::is_connected() ) {
			return $redirect_to;
		}
		$ids    = array_values( array_unique( array_filter( array_map( 'absint', (array) $ids ) ) ) );
		$client = PrintBridge_Bridge_Client::from_settings( 5 );
		$counts = array(
			'printbridge_approved'       => 0,
			'printbridge_approve_failed' => 0,
			'printbridge_approve_left'   => max( 0, count( $ids ) - self::BULK_MAX ),
		);
		foreach ( array_slice( $ids, 0, self::BULK_MAX ) as $order_id ) {
			$result = $client->order_action( $order_id, 'approve' );
			if ( ! is_wp_error( $result ) ) {
				$counts['printbridge_approved'] += isset( $result['jobs'] ) ? (int) $result['jobs'] : 0;
				continue;
			}
			$data = $result->get_error_data();
			// An order with nothing awaiting approval, or one the bridge has not received, is no failure.
			$nothing = is_array( $data ) && isset( $data['status'] ) && in_array( $data['status'], array( 404, 409 ), true );
			if ( ! $nothing ) {
				++$counts['printbridge_approve_failed'];
			}
		}
		return add_query_arg( $counts, $redirect_to );
	}

	/**
	 * The bulk action's result on the orders list.
	 *
	 * @return void
	 */
	public static function bulk_notice() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- display-only counts after the bulk action's own nonce check.
		if ( ! isset( $_GET['printbridge_approved'] ) || ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$approved = absint( wp_unslash( $_GET['printbridge_approved'] ) );
		$failed   = isset( $_GET['printbridge_approve_failed'] ) ? absint( wp_unslash( $_GET['printbridge_approve_failed'] ) ) : 0;
		$left     = isset( $_GET['printbridge_approve_left'] ) ? absint( wp_unslash( $_GET['printbridge_approve_left'] ) ) : 0;
		// phpcs:enable WordPress.Security.NonceVerification.Recommended
		/* translators: %d: number of print jobs */
		$lines = array( sprintf( _n( '%d print job approved for print.', '%d print jobs approved for print.', $approved, 'printbridge' ), $approved ) );
		if ( $failed ) {
			/* translators: %d: number of orders */
			$lines[] = sprintf( _n( 'The bridge could not be asked about %d order; try again.', 'The bridge could not be asked about %d orders; try again.', $failed, 'printbridge' ), $failed );
		}
		if ( $left ) {
			/* translators: 1: number of orders left out, 2: most orders at once */
			$lines[] = sprintf( _n( '%1$d order was left out: approve at most %2$d orders at once.', '%1$d orders were left out: approve at most %2$d orders at once.', $left, 'printbridge' ), $left, self::BULK_MAX );
		}
		$class = $failed || $left ? 'notice-warning' : 'notice-success';
		echo '<div class="notice ' . esc_attr( $class ) . ' is-dismissible printbridge-bulk-approve"><p>' . esc_html( implode( ' ', $lines ) ) . '</p></div>';
	}
}
