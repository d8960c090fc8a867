/**
 * PrintBridge product panel: fills the Key2print pickers (templates, template formats,
 * placeholders) from the shop's AJAX action. Choosing an entry writes its id into the typed
 * field beside it; when the lists cannot load, the typed fields stay as they are and the
 * reason is shown.
 */
( function () {
	'use strict';

	var cfg = window.printbridgeK2pLists;
	if ( ! cfg ) {
		return;
	}

	function label( list, entry ) {
		if ( list === 'templates' && entry.template_format_name ) {
			return entry.name + ' - ' + entry.template_format_name + ' (' + entry.id + ')';
		}
		if ( list === 'placeholders' ) {
			return entry.name + ' (' + entry.system_name + ')';
		}
		return entry.name + ' (' + entry.id + ')';
	}

	function fill( select, entries ) {
		var list = select.getAttribute( 'data-list' );
		var target = document.getElementById( select.getAttribute( 'data-target' ) || '' );
		var current = target ? target.value : '';
		select.innerHTML = '';
		var first = document.createElement( 'option' );
		first.value = '';
		first.textContent = cfg.i18n.choose;
		select.appendChild( first );
		entries.forEach( function ( entry ) {
			var option = document.createElement( 'option' );
			option.value = list === 'placeholders' ? entry.system_name : entry.id;
			option.textContent = label( list, entry );
			option.selected = current !== '' && option.value === current;
			select.appendChild( option );
		} );
		select.disabled = false;
	}

	function unavailable( select ) {
		select.innerHTML = '';
		var option = document.createElement( 'option' );
		option.value = '';
		option.textContent = '-';
		select.appendChild( option );
		select.disabled = true;
	}

	function load( refresh ) {
		var status = document.getElementById( 'printbridge-k2p-lists-status' );
		var selects = document.querySelectorAll( 'select[data-list]' );
		if ( ! status || ! selects.length ) {
			return;
		}
		status.textContent = cfg.i18n.loading;
		status.style.color = '';
		var body = new FormData();
		body.append( 'action', cfg.action );
		body.append( 'nonce', cfg.nonce );
		body.append( 'refresh', refresh ? '1' : '0' );
		fetch( cfg.ajaxUrl, { method: 'POST', body: body, credentials: 'same-origin' } )
			.then( function ( r ) {
				return r.json();
			} )
			.then( function ( json ) {
				if ( ! json || ! json.success || ! json.data ) {
					throw new Error( json && json.data && json.data.message ? json.data.message : '' );
				}
				selects.forEach( function ( select ) {
					fill( select, json.data[ select.getAttribute( 'data-list' ) ] || [] );
				} );
				status.textContent = json.data.truncated ? cfg.i18n.truncated : '';
			} )
			.catch( function ( err ) {
				selects.forEach( unavailable );
				status.textContent = cfg.i18n.unavailable + ( err && err.message ? ' ' + err.message : '' );
				status.style.color = '#b32d2e';
			} );
	}

	function addPlaceholder() {
		var pick = document.getElementById( 'printbridge_k2p_placeholder_pick' );
		var source = document.getElementById( 'printbridge_k2p_placeholder_source' );
		var area = document.getElementById( 'printbridge_k2p_placeholders' );
		if ( ! pick || ! source || ! area || ! pick.value ) {
			return;
		}
		var line = pick.value + ': ' + source.value;
		var text = area.value.replace( /\s+$/, '' );
		area.value = ( text ? text + '\n' : '' ) + line + '\n';
	}

	document.addEventListener( 'change', function ( e ) {
		var select = e.target;
		if ( ! ( select instanceof HTMLSelectElement ) || ! select.getAttribute( 'data-target' ) ) {
			return;
		}
		var target = document.getElementById( select.getAttribute( 'data-target' ) );
		if ( target && select.value !== '' ) {
			target.value = select.value;
		}
	} );
	document.addEventListener( 'click', function ( e ) {
		if ( e.target && e.target.id === 'printbridge-k2p-reload' ) {
			e.preventDefault();
			load( true );
		}
		if ( e.target && e.target.id === 'printbridge-k2p-placeholder-add' ) {
			e.preventDefault();
			addPlaceholder();
		}
	} );
	if ( document.readyState === 'loading' ) {
		document.addEventListener( 'DOMContentLoaded', function () {
			load( false );
		} );
	} else {
		load( false );
	}
}() );
