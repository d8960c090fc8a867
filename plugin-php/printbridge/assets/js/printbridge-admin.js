/**
 * PrintBridge admin: "Test connection" on the settings tab; "Retry", "Send now", "Hold" and
 * "Approve for print" on the order screen.
 */
( function () {
	'use strict';

	var cfg = window.printbridgeAdmin;
	if ( ! cfg ) {
		return;
	}

	function post( fields ) {
		var body = new FormData();
		Object.keys( fields ).forEach( function ( k ) {
			body.append( k, fields[ k ] );
		} );
		return fetch( cfg.ajaxUrl, { method: 'POST', body: body, credentials: 'same-origin' } ).then( function ( r ) {
			return r.json();
		} );
	}

	function show( el, json ) {
		var msg = json && json.data && json.data.message ? json.data.message : cfg.i18n.failed;
		el.textContent = msg;
		el.style.color = json && json.success ? '' : '#b32d2e';
	}

	// Product data panel: show the settings of the chosen provider only.
	function toggleProviderGroups() {
		var select = document.getElementById( 'printbridge_provider' );
		if ( ! select ) {
			return;
		}
		[ 'spiff', 'key2print' ].forEach( function ( provider ) {
			document.querySelectorAll( '.printbridge-' + provider ).forEach( function ( el ) {
				el.style.display = select.value === provider ? '' : 'none';
			} );
		} );
	}
	document.addEventListener( 'change', function ( e ) {
		if ( e.target && e.target.id === 'printbridge_provider' ) {
			toggleProviderGroups();
		}
	} );
	if ( document.readyState === 'loading' ) {
		document.addEventListener( 'DOMContentLoaded', toggleProviderGroups );
	} else {
		toggleProviderGroups();
	}

	document.addEventListener( 'click', function ( e ) {
		var target = e.target;
		if ( ! ( target instanceof Element ) ) {
			return;
		}
		if ( target.id === 'printbridge-test-connection' ) {
			e.preventDefault();
			var out = document.getElementById( 'printbridge-test-result' );
			out.textContent = cfg.i18n.testing;
			// What is typed in the form counts before it is saved: a pasted connection key, else the fields.
			var fields = { action: 'printbridge_test_connection', nonce: cfg.testNonce };
			[
				[ 'connection_key', 'printbridge_connection_key' ],
				[ 'bridge_url', 'printbridge_bridge_url' ],
				[ 'store_id', 'printbridge_store_id' ],
				[ 'store_token', 'printbridge_store_token' ],
			].forEach( function ( pair ) {
				var input = document.getElementById( pair[ 1 ] );
				if ( input && input.value.trim() !== '' ) {
					fields[ pair[ 0 ] ] = input.value;
				}
			} );
			post( fields )
				.then( function ( json ) {
					show( out, json );
				} )
				.catch( function () {
					show( out, null );
				} );
		}
		if ( target.classList.contains( 'printbridge-order-action' ) ) {
			e.preventDefault();
			var box = target.parentNode;
			var said = box.querySelector( '.printbridge-action-result' );
			box.querySelectorAll( '.printbridge-order-action' ).forEach( function ( b ) {
				b.disabled = true;
			} );
			said.textContent = cfg.i18n.asking;
			post( {
				action: 'printbridge_order_action',
				nonce: cfg.actionNonce,
				order_id: target.getAttribute( 'data-order-id' ),
				do: target.getAttribute( 'data-action' ),
			} )
				.then( function ( json ) {
					show( said, json );
				} )
				.catch( function () {
					show( said, null );
				} );
		}
		if ( target.classList.contains( 'printbridge-retry' ) ) {
			e.preventDefault();
			var result = target.parentNode.querySelector( '.printbridge-retry-result' );
			target.disabled = true;
			result.textContent = cfg.i18n.retrying;
			post( { action: 'printbridge_retry_order', nonce: cfg.retryNonce, order_id: target.getAttribute( 'data-order-id' ) } )
				.then( function ( json ) {
					show( result, json );
				} )
				.catch( function () {
					show( result, null );
				} )
				.then( function () {
					target.disabled = false;
				} );
		}
	} );
}() );
