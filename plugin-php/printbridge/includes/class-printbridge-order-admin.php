<?php
/**
 * Order screen: what the bridge did with the order.
 *
 * @package PrintBridge
 */

defined( 'ABSPATH' ) || exit;

/**
 * A meta box on the order screen (classic and HPOS) showing the bridge's view of the order,
 * fetched server-side, with a Retry button and PDF links proxied through admin-ajax.
 */
final class PrintBridge_Order_Admin {

	/** AJAX action: retry what needs attention. */
	const AJAX_RETRY = 'printbridge_retry_order';
	/** AJAX action: stream a kept file (PDF) from the bridge. */
	const AJAX_FILE = 'printbridge_file';

	/**
	 * Registers hooks.
	 *
	 * @return void
	 */
	public static function init() {
		add_action( 'add_meta_boxes', array( __CLASS__, 'add_meta_box' ) );
		add_action( 'wp_ajax_' . self::AJAX_RETRY, array( __CLASS__, 'ajax_retry' ) );
		add_action( 'wp_ajax_' . self::AJAX_FILE, array( __CLASS__, 'ajax_file' ) );
	}

	/**
	 * Screen id of the order edit screen (HPOS or posts).
	 *
	 * @return string
	 */
	public static function screen_id() {
		if ( function_exists( 'wc_get_page_screen_id' ) ) {
			return wc_get_page_screen_id( 'shop-order' );
		}
		return 'shop_order';
	}

	/**
	 * Adds the meta box.
	 *
	 * @return void
	 */
	public static function add_meta_box() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			return;
		}
		add_meta_box( 'printbridge-order', __( 'PrintBridge', 'printbridge' ), array( __CLASS__, 'render_meta_box' ), self::screen_id(), 'normal', 'default' );
		PrintBridge_Settings_Page::register_admin_script();
		wp_enqueue_script( 'printbridge-admin' );
	}

	/**
	 * Renders the meta box.
	 *
	 * @param WP_Post|WC_Order $post_or_order Post (classic) or order (HPOS).
	 * @return void
	 */
	public static function render_meta_box( $post_or_order ) {
		$order_id = 0;
		if ( is_object( $post_or_order ) && method_exists( $post_or_order, 'get_id' ) ) {
			$order_id = (int) $post_or_order->get_id();
		} elseif ( $post_or_order instanceof WP_Post ) {
			$order_id = (int) $post_or_order->ID;
		}
		if ( ! $order_id || ! current_user_can( 'manage_woocommerce' ) ) {
			return;
		}
		if ( ! PrintBridge_Settings::is_connected() ) {
			echo '<p>' . esc_html__( 'PrintBridge is not connected. Set it up under WooCommerce > Settings > PrintBridge.', 'printbridge' ) . '</p>';
			return;
		}
		// A short timeout: the order screen must not hang when the bridge is down.
		$view = PrintBridge_Bridge_Client::from_settings( 5 )->order( $order_id );
		echo self::render_view( $order_id, $view ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped in render_view().
	}

	/**
	 * HTML of the bridge's view of an order (every value escaped).
	 *
	 * @param int            $order_id Order id.
	 * @param array|WP_Error $view     Bridge answer.
	 * @return string
	 */
	public static function render_view( $order_id, $view ) {
		$html = '<div class="printbridge-order" data-order-id="' . esc_attr( (string) (int) $order_id ) . '">';
		if ( is_wp_error( $view ) ) {
			if ( 'printbridge_not_found' === $view->get_error_code() ) {
				$html .= '<p>' . esc_html__( 'The bridge has not received this order yet. Paid orders reach it through the order webhooks or its reconciliation.', 'printbridge' ) . '</p>';
			} else {
				$html .= '<p class="printbridge-error">' . esc_html( $view->get_error_message() ) . '</p>';
			}
			return $html . '</div>';
		}
		$status = isset( $view['status'] ) && is_scalar( $view['status'] ) ? (string) $view['status'] : '';
		$paid   = ! empty( $view['paid'] );
		$html  .= '<p>' . esc_html(
			sprintf(
				/* translators: 1: order status, 2: paid or not paid */
				__( 'Bridge sees status "%1$s", %2$s.', 'printbridge' ),
				$status,
				$paid ? __( 'paid', 'printbridge' ) : __( 'not paid', 'printbridge' )
			)
		) . '</p>';
		$html           .= PrintBridge_Order_Actions::render_waiting( $order_id, $view );
		$provider_orders = isset( $view['provider_orders'] ) && is_array( $view['provider_orders'] ) ? $view['provider_orders'] : array();
		if ( ! $provider_orders ) {
			$html .= '<p>' . esc_html__( 'No provider order for this order.', 'printbridge' ) . '</p>';
		} else {
			$html .= '<table class="widefat striped printbridge-provider-orders"><thead><tr>'
				. '<th>' . esc_html__( 'Provider', 'printbridge' ) . '</th>'
				. '<th>' . esc_html__( 'For', 'printbridge' ) . '</th>'
				. '<th>' . esc_html__( 'State', 'printbridge' ) . '</th>'
				. '<th>' . esc_html__( 'Provider order', 'printbridge' ) . '</th>'
				. '<th>' . esc_html__( 'Attempts', 'printbridge' ) . '</th>'
				. '<th>' . esc_html__( 'Tracking', 'printbridge' ) . '</th>'
				. '<th>' . esc_html__( 'PDF', 'printbridge' ) . '</th>'
				. '</tr></thead><tbody>';
			foreach ( $provider_orders as $po ) {
				if ( ! is_array( $po ) ) {
					continue;
				}
				$s      = static function ( $key ) use ( $po ) {
					return isset( $po[ $key ] ) && is_scalar( $po[ $key ] ) ? (string) $po[ $key ] : '';
				};
				$state  = $s( 'state' );
				$detail = '';
				if ( '' !== $s( 'last_error' ) ) {
					$detail .= '<br /><small class="printbridge-last-error">' . esc_html( $s( 'last_error' ) ) . '</small>';
				}
				if ( '' !== $s( 'next_attempt_at' ) ) {
					/* translators: %s: date and time */
					$detail .= '<br /><small>' . esc_html( sprintf( __( 'Next attempt: %s', 'printbridge' ), $s( 'next_attempt_at' ) ) ) . '</small>';
				}
				$tracking = array();
				if ( isset( $po['tracking'] ) && is_array( $po['tracking'] ) ) {
					foreach ( $po['tracking'] as $t ) {
						if ( ! is_array( $t ) ) {
							continue;
						}
						$label = trim( ( isset( $t['carrier'] ) && is_scalar( $t['carrier'] ) ? $t['carrier'] . ' ' : '' ) . ( isset( $t['number'] ) && is_scalar( $t['number'] ) ? $t['number'] : '' ) );
						$url   = isset( $t['url'] ) && is_string( $t['url'] ) ? esc_url( $t['url'], array( 'http', 'https' ) ) : '';
						$tracking[] = '' !== $url
							? '<a href="' . $url . '" target="_blank" rel="noopener noreferrer">' . esc_html( $label ) . '</a>'
							: esc_html( $label );
					}
				}
				$pdf = '';
				if ( '' !== $s( 'file_id' ) ) {
					$pdf = '<a href="' . esc_url( self::file_url( $order_id, $s( 'file_id' ) ) ) . '">' . esc_html__( 'Download PDF', 'printbridge' ) . '</a>';
				}
				$html .= '<tr class="printbridge-state-' . esc_attr( sanitize_html_class( $state ) ) . '">'
					. '<td>' . esc_html( PrintBridge_Design_Id::provider_label( $s( 'provider' ) ) ) . '</td>'
					. '<td>' . esc_html( 'order' === $s( 'target' ) ? __( 'whole order', 'printbridge' ) : $s( 'target' ) ) . '</td>'
					. '<td><mark class="printbridge-state">' . esc_html( self::state_label( $state ) ) . '</mark>' . $detail . '</td>'
					. '<td>' . esc_html( $s( 'provider_order_id' ) ) . '</td>'
					. '<td>' . esc_html( $s( 'attempts' ) ) . '</td>'
					. '<td>' . implode( '<br />', $tracking ) . '</td>'
					. '<td>' . $pdf . '</td>'
					. '</tr>';
			}
			$html .= '</tbody></table>';
		}
		$explained = self::explain_jobs( $order_id, $provider_orders );
		$html     .= $explained['html'];
		$attention = isset( $view['attention'] ) && is_array( $view['attention'] ) ? array_filter( $view['attention'], 'is_string' ) : array();
		$shown     = self::uncovered_attention( $attention, $explained['reasons'] );
		if ( $shown ) {
			$html .= '<div class="printbridge-attention"><p><strong>' . esc_html__( 'Needs attention:', 'printbridge' ) . '</strong></p><ul>';
			foreach ( $shown as $line ) {
				$html .= '<li>' . esc_html( $line ) . '</li>';
			}
			$html .= '</ul></div>';
		}
		if ( $attention || self::has_retryable( $provider_orders ) ) {
			$html .= '<p><button type="button" class="button printbridge-retry" data-order-id="' . esc_attr( (string) (int) $order_id ) . '">'
				. esc_html__( 'Retry', 'printbridge' ) . '</button> <span class="printbridge-retry-result" role="status" aria-live="polite"></span></p>';
		}
		return $html . '</div>';
	}

	/**
	 * The explanations of the provider orders the bridge parked (`needs-review`) or gave up
	 * on (`dead`), and their reasons.
	 *
	 * @param int   $order_id        Order id.
	 * @param array $provider_orders Provider orders.
	 * @return array{html:string,reasons:string[]}
	 */
	private static function explain_jobs( $order_id, array $provider_orders ) {
		$html    = '';
		$reasons = array();
		foreach ( $provider_orders as $po ) {
			$explanation = is_array( $po ) ? self::explain( $order_id, $po ) : null;
			if ( null === $explanation ) {
				continue;
			}
			// WordPress' inline notice look: a warning to check first, an error to retry.
			$notice = 'review' === $explanation['kind'] ? 'notice-warning' : 'notice-error';
			$html  .= '<div class="notice ' . $notice . ' inline printbridge-explain printbridge-explain-' . esc_attr( $explanation['kind'] ) . '">'
				. '<p><strong>' . esc_html( $explanation['title'] ) . '</strong></p>'
				. '<p>' . esc_html( $explanation['what'] ) . '</p>'
				. '<p><strong>' . esc_html__( 'What to do:', 'printbridge' ) . '</strong> ' . esc_html( $explanation['todo'] ) . '</p>'
				. '</div>';
			if ( isset( $po['last_error'] ) && is_string( $po['last_error'] ) && '' !== $po['last_error'] ) {
				$reasons[] = $po['last_error'];
			}
		}
		return array(
			'html'    => $html,
			'reasons' => $reasons,
		);
	}

	/**
	 * The bridge's attention lines an explanation does not already cover (a line that ends with
	 * an explained job's reason says the same thing in the bridge's words).
	 *
	 * @param string[] $attention Attention lines.
	 * @param string[] $reasons   Reasons of the explained jobs.
	 * @return string[]
	 */
	private static function uncovered_attention( array $attention, array $reasons ) {
		return array_values(
			array_filter(
				$attention,
				static function ( $line ) use ( $reasons ) {
					foreach ( $reasons as $reason ) {
						$tail = ': ' . $reason;
						if ( strlen( $line ) >= strlen( $tail ) && substr( $line, -strlen( $tail ) ) === $tail ) {
							return false;
						}
					}
					return true;
				}
			)
		);
	}

	/**
	 * What happened to a parked provider order and what the shop owner should do, in plain
	 * words; null for a provider order in any other state.
	 *
	 * A job needing review may have reached the provider (the bridge cannot tell), so the
	 * owner checks the provider's dashboard before retrying; a dead job never took effect at
	 * the provider, so a retry is safe.
	 *
	 * @param int   $order_id Order id.
	 * @param array $po       Provider order from the bridge.
	 * @return array{kind:string,title:string,what:string,todo:string}|null
	 */
	public static function explain( $order_id, array $po ) {
		$state    = isset( $po['state'] ) && is_string( $po['state'] ) ? $po['state'] : '';
		$reason   = isset( $po['last_error'] ) && is_string( $po['last_error'] ) ? $po['last_error'] : '';
		$provider = isset( $po['provider'] ) && is_string( $po['provider'] ) ? $po['provider'] : '';
		$known    = array( PrintBridge_Design_Id::PROVIDER_SPIFF, PrintBridge_Design_Id::PROVIDER_KEY2PRINT, 'apliiq' );
		$label    = in_array( $provider, $known, true ) ? PrintBridge_Design_Id::provider_label( $provider ) : $provider;
		if ( 'needs-review' === $state ) {
			return array(
				'kind'  => 'review',
				/* translators: %s: provider name */
				'title' => sprintf( __( '%s: check before retrying', 'printbridge' ), $label ),
				'what'  => self::review_what( $reason, $label ),
				'todo'  => self::review_todo( $order_id, $provider, $label ),
			);
		}
		if ( 'dead' === $state ) {
			$attempts = isset( $po['attempts'] ) && is_numeric( $po['attempts'] ) ? (int) $po['attempts'] : 0;
			return self::dead_explanation( $reason, $label, $attempts );
		}
		return null;
	}

	/**
	 * What happened to a job needing review, from the bridge's reason.
	 *
	 * @param string $reason Bridge's reason.
	 * @param string $label  Provider name.
	 * @return string
	 */
	private static function review_what( $reason, $label ) {
		if ( false !== stripos( $reason, 'interrupted after' ) ) {
			/* translators: %1$s: provider name */
			return sprintf( __( 'PrintBridge was stopped while it was sending this order to %1$s: the request had already left, but the answer was never recorded. %1$s may or may not have created the order.', 'printbridge' ), $label );
		}
		if ( false !== stripos( $reason, 'may have received the request' ) ) {
			/* translators: %s: provider name */
			return sprintf( __( '%s gave no clear answer when PrintBridge sent this order (the connection broke or timed out, or it reported an error of its own). It may have received the request and created the order.', 'printbridge' ), $label );
		}
		if ( false !== stripos( $reason, 'kept failing' ) ) {
			/* translators: %1$s: provider name */
			return sprintf( __( 'An earlier attempt may have placed this order with %1$s, and PrintBridge could not find out: asking %1$s about the order kept failing.', 'printbridge' ), $label );
		}
		/* translators: %s: provider name */
		return sprintf( __( 'PrintBridge cannot tell whether %s received this order.', 'printbridge' ), $label );
	}

	/**
	 * What the owner does about a job needing review: check the provider first.
	 *
	 * @param int    $order_id Order id.
	 * @param string $provider Provider.
	 * @param string $label    Provider name.
	 * @return string
	 */
	private static function review_todo( $order_id, $provider, $label ) {
		/* translators: %s: provider name */
		$todo = sprintf( __( 'Check your %s dashboard for this order before you press Retry. If the order is there, do not retry: it would be made twice. If it is not there, press Retry.', 'printbridge' ), $label );
		$look = '';
		if ( PrintBridge_Design_Id::PROVIDER_SPIFF === $provider ) {
			$transactions = self::spiff_transactions( $order_id );
			if ( $transactions ) {
				/* translators: %s: comma-separated Spiff transaction ids */
				$look = sprintf( __( 'Look for these transactions: %s.', 'printbridge' ), implode( ', ', $transactions ) );
			}
		} elseif ( 'apliiq' === $provider ) {
			/* translators: %d: WooCommerce order id */
			$look = sprintf( __( 'Look for order %d.', 'printbridge' ), (int) $order_id );
		}
		return '' !== $look ? $todo . ' ' . $look : $todo;
	}

	/**
	 * What happened to a dead job and how to retry it.
	 *
	 * @param string $reason   Bridge's reason.
	 * @param string $label    Provider name.
	 * @param int    $attempts Attempts made.
	 * @return array{kind:string,title:string,what:string,todo:string}
	 */
	private static function dead_explanation( $reason, $label, $attempts ) {
		/* translators: %s: provider name */
		$safe = sprintf( __( '%s did not act on the request, so retrying is safe.', 'printbridge' ), $label );
		if ( false !== stripos( $reason, 'is not configured for this store' ) ) {
			/* translators: %s: provider name */
			$what = sprintf( __( '%s is not set up for this store in PrintBridge, so nothing was sent to it.', 'printbridge' ), $label );
			/* translators: %s: provider name */
			$fix = sprintf( __( 'Ask whoever runs your PrintBridge bridge to set up %s, then press Retry.', 'printbridge' ), $label );
		} elseif ( 0 === stripos( $reason, 'gave up after' ) ) {
			$what = sprintf(
				/* translators: 1: provider name, 2: number of attempts */
				_n( 'PrintBridge could not get through to %1$s: it was unreachable or busy, and PrintBridge stopped after %2$d attempt.', 'PrintBridge could not get through to %1$s: it was unreachable or busy each time, and PrintBridge stopped after %2$d attempts.', max( 1, $attempts ), 'printbridge' ),
				$label,
				max( 1, $attempts )
			);
			/* translators: %s: provider name */
			$fix = sprintf( __( 'Press Retry; if %s is still unavailable, PrintBridge keeps trying for a while.', 'printbridge' ), $label );
		} else {
			/* translators: %s: provider name */
			$what = sprintf( __( '%s refused the request; its answer is shown under State above.', 'printbridge' ), $label );
			$fix  = __( 'Fix what the answer points at (for example the shipping address or the product\'s PrintBridge settings), then press Retry.', 'printbridge' );
		}
		return array(
			'kind'  => 'dead',
			/* translators: %s: provider name */
			'title' => sprintf( __( '%s: failed, safe to retry', 'printbridge' ), $label ),
			'what'  => $what,
			'todo'  => $safe . ' ' . $fix,
		);
	}

	/**
	 * The Spiff transaction ids of an order's line items.
	 *
	 * @param int $order_id Order id.
	 * @return string[]
	 */
	private static function spiff_transactions( $order_id ) {
		$order = function_exists( 'wc_get_order' ) ? wc_get_order( (int) $order_id ) : false;
		if ( ! $order ) {
			return array();
		}
		$ids = array();
		foreach ( $order->get_items() as $item ) {
			$id = (string) $item->get_meta( PrintBridge_Design_Id::META_SPIFF, true );
			if ( '' !== $id && PrintBridge_Design_Id::is_valid( PrintBridge_Design_Id::PROVIDER_SPIFF, $id ) ) {
				$ids[] = $id;
			}
		}
		return array_values( array_unique( $ids ) );
	}

	/**
	 * Whether any provider order is in a state a retry can help.
	 *
	 * @param array $provider_orders Provider orders.
	 * @return bool
	 */
	private static function has_retryable( array $provider_orders ) {
		foreach ( $provider_orders as $po ) {
			if ( is_array( $po ) && isset( $po['state'] ) && in_array( $po['state'], array( 'needs-review', 'dead', 'retrying' ), true ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Human label of a provider-order state.
	 *
	 * @param string $state State.
	 * @return string
	 */
	public static function state_label( $state ) {
		$labels = array(
			'pending'           => __( 'Pending', 'printbridge' ),
			'retrying'          => __( 'Retrying', 'printbridge' ),
			'running'           => __( 'Running', 'printbridge' ),
			'needs-review'      => __( 'Needs review', 'printbridge' ),
			'dead'              => __( 'Failed', 'printbridge' ),
			'done'              => __( 'Placed', 'printbridge' ),
			'cancelled'         => __( 'Cancelled', 'printbridge' ),
			'held'              => __( 'Held', 'printbridge' ),
			'awaiting-approval' => __( 'Awaiting approval', 'printbridge' ),
		);
		return isset( $labels[ $state ] ) ? $labels[ $state ] : $state;
	}

	/**
	 * admin-ajax URL that streams a file from the bridge (token stays server-side).
	 *
	 * @param int    $order_id Order id.
	 * @param string $file_id  File id.
	 * @return string
	 */
	public static function file_url( $order_id, $file_id ) {
		return add_query_arg(
			array(
				'action'   => self::AJAX_FILE,
				'order_id' => (int) $order_id,
				'file_id'  => rawurlencode( $file_id ),
				'_wpnonce' => wp_create_nonce( self::file_nonce_action( $order_id, $file_id ) ),
			),
			admin_url( 'admin-ajax.php' )
		);
	}

	/**
	 * Nonce action of one file link (bound to the order and the file).
	 *
	 * @param int    $order_id Order id.
	 * @param string $file_id  File id.
	 * @return string
	 */
	public static function file_nonce_action( $order_id, $file_id ) {
		return self::AJAX_FILE . '_' . (int) $order_id . '_' . $file_id;
	}

	/**
	 * AJAX: asks the bridge to retry an order.
	 *
	 * @return void
	 */
	public static function ajax_retry() {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_send_json_error( array( 'message' => __( 'You are not allowed to do this.', 'printbridge' ) ), 403 );
		}
		check_ajax_referer( self::AJAX_RETRY, 'nonce' );
		$order_id = isset( $_POST['order_id'] ) ? absint( wp_unslash( $_POST['order_id'] ) ) : 0;
		if ( ! $order_id ) {
			wp_send_json_error( array( 'message' => __( 'No order given.', 'printbridge' ) ), 400 );
		}
		$result = PrintBridge_Bridge_Client::from_settings()->retry_order( $order_id );
		if ( is_wp_error( $result ) ) {
			wp_send_json_error( array( 'message' => $result->get_error_message() ), 502 );
		}
		$n = isset( $result['replayed'] ) ? (int) $result['replayed'] : 0;
		wp_send_json_success(
			array(
				'replayed' => $n,
				'message'  => 0 === $n
					? __( 'Nothing needed a retry.', 'printbridge' )
					/* translators: %d: number of jobs */
					: sprintf( _n( 'The bridge is retrying %d job. Reload the page to see its progress.', 'The bridge is retrying %d jobs. Reload the page to see their progress.', $n, 'printbridge' ), $n ),
			)
		);
	}

	/**
	 * AJAX: streams a kept file (PDF) from the bridge.
	 *
	 * @return void
	 */
	public static function ajax_file() {
		$order_id = isset( $_GET['order_id'] ) ? absint( wp_unslash( $_GET['order_id'] ) ) : 0;
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'printbridge' ), '', array( 'response' => 403 ) );
		}
		$file_id = isset( $_GET['file_id'] ) ? sanitize_text_field( wp_unslash( $_GET['file_id'] ) ) : '';
		if ( 1 !== preg_match( '/^[A-Za-z0-9._-]{1,128}$/D', $file_id ) ) {
			wp_die( esc_html__( 'Unknown file.', 'printbridge' ), '', array( 'response' => 400 ) );
		}
		check_ajax_referer( self::file_nonce_action( $order_id, $file_id ) );
		$file = PrintBridge_Bridge_Client::from_settings()->file( $file_id );
		if ( is_wp_error( $file ) ) {
			wp_die( esc_html( $file->get_error_message() ), '', array( 'response' => 502 ) );
		}
		$type = 0 === stripos( $file['content_type'], 'application/pdf' ) ? 'application/pdf' : 'application/octet-stream';
		nocache_headers();
		header( 'Content-Type: ' . $type );
		header( 'Content-Disposition: attachment; filename="order-' . $order_id . '-' . $file_id . '.pdf"' );
		header( 'Content-Length: ' . strlen( $file['body'] ) );
		header( 'X-Content-Type-Options: nosniff' );
		echo $file['body']; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- binary file download.
		exit;
	}
}
