/* Local stand-in for the Key2print editor wrapper: K2PEditorWrapper(containerId, options). */
( function () {
	'use strict';
	window.__k2pLog = [];
	var PRICE_URL = 'https://editor.key2print.test/price';

	// The leaf of Get Price's answer a setup chooses (the flat price when there is no tree).
	function leafPrice( data, setup ) {
		var option = data.priceOptionTree;
		while ( option ) {
			var chosen = String( setup[ option.id ] );
			var value = option.values.filter( function ( v ) {
				return String( v.id ) === chosen;
			} )[ 0 ];
			if ( ! value.subOption ) {
				return value;
			}
			option = value.subOption;
		}
		return data;
	}
	function K2PEditorWrapper( containerId, options ) {
		this.containerId = containerId;
		this.options = options;
		window.__k2pLog.push( { containerId: containerId, sessionToken: options.sessionToken, width: options.width, height: options.height, gateway: typeof options.onProductUpdateCallback === 'function' } );
	}
	K2PEditorWrapper.prototype.open = function () {
		var o = this.options;
		var c = document.getElementById( this.containerId );
		c.innerHTML = '';
		var frame = document.createElement( 'div' );
		frame.id = 'k2p-standin-frame';
		frame.style.width = o.width || '1024px';
		frame.style.height = o.height || '768px';
		frame.style.border = '3px solid #0055aa';
		frame.style.boxSizing = 'border-box';
		frame.style.padding = '1em';
		frame.innerHTML = '<h2>Key2print editor (stand-in)</h2><p>Session: <code id="k2p-standin-token"></code></p>'
			+ '<button type="button" id="k2p-standin-a5">Format A5, gloss</button> '
			+ '<button type="button" id="k2p-standin-express">Gloss, express production</button> '
			+ '<button type="button" id="k2p-standin-standard">Gloss, standard production</button> '
			+ '<button type="button" id="k2p-standin-finish">Finish</button>'
			+ '<p>Price: <output id="k2p-standin-price"></output></p>';
		c.appendChild( frame );
		document.getElementById( 'k2p-standin-token' ).textContent = o.sessionToken;
		document.getElementById( 'k2p-standin-a5' ).addEventListener( 'click', function () {
			if ( o.onProductUpdateCallback ) {
				o.onProductUpdateCallback( { pa_format: 'a5', finish: 'gloss' } );
			}
		} );
		// A price-tree choice: the editor passes the whole setup on, and shows the price it
		// gets (the real editor asks Key2print, which calls the bridge's Get Price; here the
		// test answers PRICE_URL from the bridge's gateway).
		function choose( speed ) {
			var setup = { finish: 'Gloss', speed: speed };
			if ( o.onProductUpdateCallback ) {
				o.onProductUpdateCallback( setup );
			}
			document.getElementById( 'k2p-standin-price' ).textContent = '';
			fetch( PRICE_URL + '?setup=' + encodeURIComponent( JSON.stringify( setup ) ) )
				.then( function ( r ) {
					return r.json();
				} )
				.then( function ( answer ) {
					document.getElementById( 'k2p-standin-price' ).textContent = leafPrice( answer.data, setup ).grossPrice.toFixed( 2 );
				} );
		}
		document.getElementById( 'k2p-standin-express' ).addEventListener( 'click', function () {
			choose( 'express' );
		} );
		document.getElementById( 'k2p-standin-standard' ).addEventListener( 'click', function () {
			choose( 'standard' );
		} );
		document.getElementById( 'k2p-standin-finish' ).addEventListener( 'click', function () {
			o.onEditorFinishCallback( 'proj_42-A' );
		} );
	};
	K2PEditorWrapper.prototype.close = function () {
		document.getElementById( this.containerId ).innerHTML = '';
	};
	window.K2PEditorWrapper = K2PEditorWrapper;
}() );
