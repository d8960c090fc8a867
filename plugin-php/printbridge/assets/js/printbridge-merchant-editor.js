/**
 * PrintBridge: WooCommerce > Key2print templates. Asks the shop (which asks the bridge) for a
 * merchant-mode work session and opens the Key2print editor wrapper with its token.
 */
( function () {
	'use strict';

	var cfg = window.printbridgeMerchantEditor;
	if ( ! cfg ) {
		return;
	}

	function start() {
		var button = document.getElementById( 'printbridge-open-merchant-editor' );
		var status = document.getElementById( 'printbridge-merchant-status' );
		var container = document.getElementById( cfg.containerId );
		if ( ! button || ! status || ! container ) {
			return;
		}
		var wrapper = null;

		function say( text, isError ) {
			status.textContent = text || '';
			status.style.color = isError ? '#b32d2e' : '';
		}

		function open( token ) {
			wrapper = new window.K2PEditorWrapper( cfg.containerId, {
				sessionToken: token,
				width: cfg.width,
				height: cfg.height,
				onEditorFinishCallback: function () {
					try {
						wrapper.close();
					} catch ( e ) {}
					button.disabled = false;
					say( cfg.i18n.finished, false );
				}
			} );
			wrapper.open();
			say( '', false );
		}

		button.addEventListener( 'click', function () {
			if ( typeof window.K2PEditorWrapper !== 'function' ) {
				say( cfg.i18n.noWrapper, true );
				return;
			}
			button.disabled = true;
			say( cfg.i18n.opening, false );
			var body = new FormData();
			body.append( 'action', cfg.action );
			body.append( 'nonce', cfg.nonce );
			fetch( cfg.ajaxUrl, { method: 'POST', body: body, credentials: 'same-origin' } )
				.then( function ( r ) {
					return r.json();
				} )
				.then( function ( json ) {
					if ( ! json || ! json.success || ! json.data || ! json.data.token ) {
						throw new Error( json && json.data && json.data.message ? json.data.message : cfg.i18n.failed );
					}
					open( json.data.token );
				} )
				.catch( function ( err ) {
					button.disabled = false;
					say( err && err.message ? err.message : cfg.i18n.failed, true );
				} );
		} );
	}

	if ( document.readyState === 'loading' ) {
		document.addEventListener( 'DOMContentLoaded', start );
	} else {
		start();
	}
}() );
